"""不通过 is confirmed on its own page, with the reason the enterprise will read, before it happens."""

from __future__ import annotations

from django.urls import reverse

from applications.models import Application
from applications.states import Status
from review import actions
from review.models import ReviewStep
from review.tests.helpers import ReviewTestCase
from testing.fixtures import make_application


class RejectionConfirmationTests(ReviewTestCase):
    def setUp(self) -> None:
        self.app = make_application(self.enterprise, self.alice, Status.SUBMITTED)
        actions.claim_application(self.app, actor=self.reviewer)
        self.login(self.reviewer)
        self.url = reverse("review:transition", args=[self.app.pk, "reject_initial"])

    def status(self) -> str:
        return Application.objects.get(pk=self.app.pk).status

    def test_it_rejects_only_after_confirming_with_a_reason(self) -> None:
        first = self.client.post(self.url, {"opinion": "作品未在平台上线"})
        self.assertContains(first, "此操作不能撤销")
        self.assertContains(first, "作品未在平台上线</textarea>")
        self.assertContains(first, '<input type="hidden" name="confirmed" value="1">', html=True)
        self.assertEqual(self.status(), Status.INITIAL_REVIEW)
        blank = self.client.post(self.url, {"opinion": "  ", "confirmed": "1"})
        self.assertContains(blank, "这个字段是必填项", status_code=400)
        self.assertEqual(self.status(), Status.INITIAL_REVIEW)
        done = self.client.post(self.url, {"opinion": "作品未在平台上线", "confirmed": "1"})
        self.assertRedirects(done, reverse("review:detail", args=[self.app.pk]), fetch_redirect_response=False)
        self.assertEqual(self.status(), Status.REJECTED)
        step = ReviewStep.objects.get(application=self.app, transition="reject_initial")
        self.assertEqual(step.opinion, "作品未在平台上线")

    def test_it_refuses_before_confirming_when_the_rejection_is_not_allowed(self) -> None:
        self.client.logout()
        self.login(self.head)
        response = self.client.post(self.url, {"opinion": "不同意"})
        self.assertEqual(response.status_code, 403)
        self.assertNotContains(response, "确认不予通过", status_code=403)


class WithdrawalReasonTests(ReviewTestCase):
    def test_it_shows_the_withdrawal_reason_on_the_review_page(self) -> None:
        from applications import actions as intake

        app = make_application(self.enterprise, self.alice, Status.SUBMITTED)
        intake.withdraw_application(app, actor=self.alice, reason="项目取消：合作方退出")
        self.login(self.reviewer)
        self.assertContains(self.client.get(reverse("review:detail", args=[app.pk])), "项目取消：合作方退出")
