"""A claim (受理) reserves the initial review for the claimant; another reviewer acts only after
an explicit, audited take-over."""

from __future__ import annotations

from django.urls import reverse

from accounts.roles import Role
from applications.states import Status
from ledger.models import AuditEvent
from review import actions, transitions
from review.models import ReviewStep
from review.tests.helpers import ReviewTestCase
from review.transitions import ReviewError
from testing.fixtures import make_application, make_user


class ClaimReservationTests(ReviewTestCase):
    def setUp(self) -> None:
        self.app = make_application(self.enterprise, self.alice, Status.SUBMITTED)
        self.other = make_user("reviewer2", Role.REVIEWER, display_name="初审员乙", email="r2@example.cn")
        actions.claim_application(self.app, actor=self.reviewer)

    def test_it_refuses_another_reviewer_passing_a_claimed_application(self) -> None:
        with self.assertRaises(ReviewError) as refused:
            actions.pass_initial_review(self.app, actor=self.other, opinion="初审意见：同意")
        self.assertEqual(refused.exception.status, 403)
        self.assertIn("初审员", refused.exception.message)
        self.assertIn("接手", refused.exception.message)
        self.app.refresh_from_db()
        self.assertEqual(self.app.status, Status.INITIAL_REVIEW)
        self.assertTrue(
            AuditEvent.objects.filter(
                action="application.pass_initial", actor=self.other, result=AuditEvent.Result.FAILURE
            ).exists()
        )

    def test_it_reserves_every_initial_review_step_for_the_claimant(self) -> None:
        self.assertEqual(transitions.available_transitions(self.app, self.other), ["take_over"])
        for name in ("request_supplement", "pass_initial", "reject_initial", "on_site_check"):
            refusal = transitions.check_transition(self.app, name, self.other)
            assert refusal is not None, name
            self.assertEqual(refusal.status, 403)
        self.assertNotIn("take_over", transitions.available_transitions(self.app, self.reviewer))

    def test_it_lets_another_reviewer_act_after_an_audited_take_over(self) -> None:
        actions.take_over_application(self.app, actor=self.other, reason="原受理人出差")
        step = ReviewStep.objects.get(application=self.app, transition="take_over")
        self.assertEqual(step.actor, self.other)
        self.assertEqual(step.data["previous_holder_id"], self.reviewer.pk)
        event = AuditEvent.objects.get(action="application.take_over")
        self.assertEqual(event.actor, self.other)
        assert isinstance(event.after, dict)
        self.assertEqual(event.after["previous_holder"], str(self.reviewer))
        self.assertEqual(event.after["opinion"], "原受理人出差")
        self.assertEqual(transitions.claimant_of(self.app), self.other)
        actions.pass_initial_review(self.app, actor=self.other, opinion="初审意见：同意")
        self.assertEqual(self.app.status, Status.RE_REVIEW)

    def test_it_reserves_the_application_for_the_new_holder_after_a_take_over(self) -> None:
        actions.take_over_application(self.app, actor=self.other, reason="原受理人出差")
        with self.assertRaises(ReviewError) as refused:
            actions.pass_initial_review(self.app, actor=self.reviewer, opinion="初审意见：同意")
        self.assertEqual(refused.exception.status, 403)

    def test_it_refuses_a_take_over_without_a_reason_or_by_the_holder(self) -> None:
        with self.assertRaises(ReviewError) as refused:
            actions.take_over_application(self.app, actor=self.other, reason="  ")
        self.assertEqual(refused.exception.status, 400)
        with self.assertRaises(ReviewError):
            actions.take_over_application(self.app, actor=self.reviewer, reason="我自己")
        self.assertFalse(ReviewStep.objects.filter(transition="take_over").exists())

    def test_the_review_page_offers_the_take_over_and_names_the_holder(self) -> None:
        self.login(self.other)
        page = self.client.get(reverse("review:detail", args=[self.app.pk]))
        self.assertContains(page, "已由“初审员”受理")
        self.assertNotContains(page, 'id="do-pass_initial"')
        response = self.client.post(reverse("review:take_over", args=[self.app.pk]), {"opinion": "工作调整"})
        self.assertEqual(response.status_code, 302)
        page = self.client.get(reverse("review:detail", args=[self.app.pk]))
        self.assertContains(page, 'id="do-pass_initial"')
        self.assertContains(page, "接手初审")  # in the history

    def test_the_applicants_timeline_does_not_show_the_take_over(self) -> None:
        from applications.timeline import timeline

        actions.take_over_application(self.app, actor=self.other, reason="内部分工调整")
        shown = " ".join(f"{item.label} {item.note}" for item in timeline(self.app))
        self.assertIn("受理", shown)
        self.assertNotIn("内部分工调整", shown)
        self.assertNotIn("take_over", shown)

    def test_it_builds_one_timeline_the_staff_see_with_refusals_and_take_overs(self) -> None:
        from applications.timeline import Audience, timeline

        with self.assertRaises(ReviewError):
            actions.pass_initial_review(self.app, actor=self.other, opinion="同意")
        actions.take_over_application(self.app, actor=self.other, reason="内部分工调整")
        staff = timeline(self.app, audience=Audience.STAFF)
        applicant = timeline(self.app)
        self.assertEqual([i.label for i in staff], ["受理并开始初审", "初审通过", "接手初审"])
        self.assertEqual([i.failed for i in staff], [False, True, False])
        self.assertEqual((staff[0].before, staff[0].after), ("已提交", "初审中"))
        self.assertEqual(staff[2].note, "内部分工调整")
        self.assertEqual([i.label for i in applicant], ["受理并开始初审"])
