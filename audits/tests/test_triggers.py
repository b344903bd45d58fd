"""Reconciliation runs by itself on submission and before final approval, and the review page shows it."""

from __future__ import annotations

import time_machine
from django.urls import reverse

from applications import actions as intake
from applications.states import Status
from applications.tests.factories import NOW, make_submittable
from audits.models import ReconciliationRun
from review import actions as review
from review.tests.helpers import ReviewTestCase
from testing.fixtures import BaseTestCase, make_application


@time_machine.travel(NOW, tick=False)
class SubmissionTriggerTests(BaseTestCase):
    def test_submission_runs_a_reconciliation_after_commit(self) -> None:
        application = make_submittable(self.alice)
        with self.captureOnCommitCallbacks(execute=True):
            intake.submit_application(application, actor=self.alice)
        run = ReconciliationRun.objects.get(application=application)
        self.assertEqual(run.trigger, ReconciliationRun.Trigger.SUBMISSION)


class FinalApprovalTriggerTests(ReviewTestCase):
    def test_passing_re_review_reconciles_before_final_approval_and_the_page_shows_it(self) -> None:
        app = make_application(
            self.enterprise, self.alice, Status.RE_REVIEW, filing_number="京剧备字2026-0777"
        )
        with self.captureOnCommitCallbacks(execute=True):
            review.pass_re_review(app, actor=self.head, opinion="同意")
        run = ReconciliationRun.objects.get(application=app)
        self.assertEqual(run.trigger, ReconciliationRun.Trigger.FINAL_APPROVAL)
        self.login(self.approver)
        response = self.client.get(reverse("review:detail", args=[app.pk]))
        self.assertContains(response, "对账结果")
        self.assertContains(response, "最终审批前")
