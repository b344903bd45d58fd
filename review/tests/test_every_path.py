"""Every path through a rule applies the rule: resubmission checks the rows as submission does,
a supplement item states its requirement, passing steps carry the opinion the source form asks
for, and a refused action stays out of the applicant's timeline."""

from __future__ import annotations

from django.urls import reverse

from applications.states import Status
from applications.timeline import timeline
from enterprises.models import Provider
from ledger.models import AuditEvent
from review import actions, resubmission
from review.models import SupplementNotice
from review.tests.helpers import ReviewTestCase
from review.transitions import ReviewError
from testing.fixtures import make_application


class SupplementItemTests(ReviewTestCase):
    def setUp(self) -> None:
        self.app = make_application(self.enterprise, self.alice, Status.SUBMITTED)
        actions.claim_application(self.app, actor=self.reviewer)

    def test_it_refuses_a_ticked_item_without_its_requirement(self) -> None:
        self.login(self.reviewer)
        response = self.client.post(
            reverse("review:supplement_request", args=[self.app.pk]),
            {
                "items": ["material:settlement_voucher", "row:work_title"],
                "text:material:settlement_voucher": "  ",
                "text:row:work_title": "与备案证明不一致",
            },
        )
        self.assertContains(response, "请填写补正事项“结算凭证”的具体要求", status_code=400)
        self.assertFalse(SupplementNotice.objects.filter(application=self.app).exists())
        self.app.refresh_from_db()
        self.assertEqual(self.app.status, Status.INITIAL_REVIEW)


class OpinionTests(ReviewTestCase):
    def test_it_requires_the_opinion_of_each_passing_step(self) -> None:
        app = make_application(self.enterprise, self.alice, Status.INITIAL_REVIEW)
        for action, actor, box, status in [
            (actions.pass_initial_review, self.reviewer, "初审意见", Status.INITIAL_REVIEW),
            (actions.pass_re_review, self.head, "复审意见", Status.RE_REVIEW),
            (actions.approve_application, self.approver, "审批结果", Status.FINAL_APPROVAL),
        ]:
            with self.subTest(box=box):
                with self.assertRaises(ReviewError) as refused:
                    action(app, actor=actor, opinion="  ")
                self.assertEqual(refused.exception.status, 400)
                self.assertIn(box, refused.exception.message)
                app.refresh_from_db()
                self.assertEqual(app.status, status)
                action(app, actor=actor, opinion="同意")
        self.assertEqual(app.status, Status.APPROVED)

    def test_it_refuses_an_empty_initial_opinion_from_the_review_page(self) -> None:
        app = make_application(self.enterprise, self.alice, Status.INITIAL_REVIEW)
        self.login(self.reviewer)
        response = self.client.post(
            reverse("review:transition", args=[app.pk, "pass_initial"]), {"opinion": ""}
        )
        self.assertContains(response, "初审意见", status_code=400)
        app.refresh_from_db()
        self.assertEqual(app.status, Status.INITIAL_REVIEW)


class TimelineTests(ReviewTestCase):
    def test_it_keeps_a_refused_action_out_of_the_applicants_timeline(self) -> None:
        app = make_application(self.enterprise, self.alice, Status.INITIAL_REVIEW)
        with self.assertRaises(ReviewError):
            actions.pass_initial_review(app, actor=self.head, opinion="越权办理")
        with self.assertRaises(ReviewError):
            actions.pass_initial_review(app, actor=self.reviewer, opinion="")
        refused = AuditEvent.objects.filter(
            action="application.pass_initial", result=AuditEvent.Result.FAILURE
        )
        # The staff audit log keeps both attempts as refused ...
        self.assertEqual(refused.count(), 2)
        # ... the applicant sees nothing happened.
        self.assertNotIn("初审通过", [item.label for item in timeline(app)])
        self.login(self.alice)
        page = self.client.get(reverse("applications:detail", args=[app.pk]))
        self.assertNotContains(page, "越权办理")
        self.assertNotContains(page, "初审通过")
        actions.pass_initial_review(app, actor=self.reviewer, opinion="材料齐全")
        self.assertEqual([i.label for i in timeline(app)].count("初审通过"), 1)


class ResubmissionTests(ReviewTestCase):
    def setUp(self) -> None:
        self.app = make_application(self.enterprise, self.alice, Status.SUBMITTED)
        actions.claim_application(self.app, actor=self.reviewer)

    def notify(self, *codes: str) -> None:
        actions.request_supplement(self.app, items=[(code, "请核对") for code in codes], actor=self.reviewer)

    def test_it_refuses_an_enterprise_name_that_differs_from_the_registered_one(self) -> None:
        self.notify("row:enterprise_name")
        with self.assertRaises(ReviewError) as refused:
            resubmission.resubmit_application(
                self.app,
                answers={},
                row_values={"enterprise_name": "北京影都智造文化传媒（集团）有限公司"},
                actor=self.alice,
            )
        self.assertEqual(refused.exception.status, 400)
        # The submission's message, word for word.
        self.assertIn("1. 企业名称", refused.exception.message)
        self.assertIn(
            "企业名称须与注册的企业名称“北京影都智造文化传媒有限公司”完全一致", refused.exception.message
        )
        self.app.refresh_from_db()
        self.assertEqual(
            (self.app.status, self.app.enterprise_name),
            (Status.SUPPLEMENT_REQUESTED, "北京影都智造文化传媒有限公司"),
        )

    def test_it_links_only_an_approved_provider(self) -> None:
        Provider.objects.create(name="未获批算力公司", status=Provider.Status.PENDING)
        approved = Provider.objects.create(name="亦庄智算", status=Provider.Status.APPROVED)
        self.notify("row:provider_name")
        resubmission.resubmit_application(
            self.app, answers={}, row_values={"provider_name": "未获批算力公司"}, actor=self.alice
        )
        self.app.refresh_from_db()
        self.assertEqual((self.app.provider_name, self.app.provider_id), ("未获批算力公司", None))
        actions.request_supplement(
            self.app, items=[("row:provider_name", "请填写合作方")], actor=self.reviewer
        )
        resubmission.resubmit_application(
            self.app, answers={}, row_values={"provider_name": "亦庄智算"}, actor=self.alice
        )
        self.app.refresh_from_db()
        self.assertEqual(self.app.provider_id, approved.pk)

    def test_it_refuses_a_value_with_the_forms_own_message(self) -> None:
        self.notify("row:work_minutes")
        with self.assertRaises(ReviewError) as refused:
            resubmission.resubmit_application(
                self.app, answers={}, row_values={"work_minutes": "六十"}, actor=self.alice
            )
        self.assertIn("12. 作品制作时长（分钟）：请填写整数分钟", refused.exception.message)
