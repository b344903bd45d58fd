from __future__ import annotations

from django.urls import reverse

from applications.states import Status
from enterprises.models import Enterprise
from testing.fixtures import BaseTestCase, make_application


class WorkbenchTests(BaseTestCase):
    def test_reviewer_sees_counts_of_work_waiting_for_their_role(self) -> None:
        make_application(self.enterprise, self.alice, Status.SUBMITTED, filing_number="京剧备字2026-0901")
        make_application(
            self.enterprise, self.alice, Status.INITIAL_REVIEW, filing_number="京剧备字2026-0902"
        )
        make_application(self.enterprise, self.alice, Status.RE_REVIEW, filing_number="京剧备字2026-0903")
        Enterprise.objects.filter(pk=self.other_enterprise.pk).update(status=Enterprise.Status.PENDING)
        self.login(self.reviewer)
        response = self.client.get(reverse("workbench"))
        todo = {c["label"]: c["count"] for c in response.context["todo"]}
        self.assertEqual(todo["待初审"], 2)
        self.assertEqual(todo["待核验企业"], 1)
        self.assertNotIn("待复审", todo)
        self.assertContains(response, "/review/?queue=initial")

    def test_head_sees_the_re_review_queue(self) -> None:
        make_application(self.enterprise, self.alice, Status.RE_REVIEW, filing_number="京剧备字2026-0904")
        self.login(self.head)
        todo = {c["label"]: c["count"] for c in self.client.get(reverse("workbench")).context["todo"]}
        self.assertEqual(todo, {"待复审": 1})

    def test_applicant_of_a_verified_enterprise_lands_on_their_applications(self) -> None:
        self.login(self.alice)
        self.assertRedirects(
            self.client.get(reverse("workbench")), reverse("applications:list"), fetch_redirect_response=False
        )

    def test_user_without_a_role_sees_an_explanation(self) -> None:
        self.login(self.outsider)
        self.assertContains(self.client.get(reverse("workbench")), "暂无可用的功能")
