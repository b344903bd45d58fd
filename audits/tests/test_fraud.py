"""Fraud outcome: clawback tracked to repayment, the blacklist and its export; acceptance: a blacklisted
enterprise cannot submit, and sees why."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import ClassVar

from django.core import mail
from django.core.exceptions import PermissionDenied
from openpyxl import load_workbook

from applications import actions as intake
from applications.models import AnnualGrant, Application
from applications.money import kept_total
from applications.states import Status
from audits import findings, fraud
from audits.guards import AuditRefused
from audits.models import Clawback, Finding
from audits.tests.fixtures import make_paid_application
from enterprises.models import Enterprise
from ledger.models import AuditEvent
from review.models import ReviewStep
from testing.fixtures import BaseTestCase

BEIJING = dt.timezone(dt.timedelta(hours=8))
REASON = "虚报算力消耗，经核查属实（2026年第三季度抽查）"


class ClawbackTests(BaseTestCase):
    app: ClassVar[Application]

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.app = make_paid_application(
            cls.enterprise,
            cls.alice,
            "京剧备字2026099号",
            submitted_at=dt.datetime(2026, 3, 2, 10, tzinfo=BEIJING),
            paid_at=dt.datetime(2026, 4, 10, tzinfo=BEIJING),
        )
        AnnualGrant.objects.create(
            enterprise=cls.enterprise, year=2026, total=Decimal("15000.00"), cap=Decimal("100000.00")
        )

    def test_clawback_takes_the_paid_award_back_and_opens_a_receivable(self) -> None:
        self.assertEqual(kept_total(self.enterprise.pk, 2026), Decimal("15000.00"))
        with self.captureOnCommitCallbacks(execute=True):
            claw = fraud.claw_back(self.app, Decimal("15000.00"), actor=self.inspector, reason=REASON)
        self.app.refresh_from_db()
        self.assertEqual(self.app.status, Status.CLAWED_BACK)
        self.assertEqual((claw.status, claw.outstanding), (Clawback.Status.OPEN, Decimal("15000.00")))
        # The award no longer counts against the annual cap.
        self.assertEqual(kept_total(self.enterprise.pk, 2026), Decimal("0.00"))
        self.assertEqual(
            AnnualGrant.objects.get(enterprise=self.enterprise, year=2026).total, Decimal("0.00")
        )
        step = ReviewStep.objects.get(application=self.app, transition="clawback")
        self.assertEqual(
            (step.status_before, step.status_after, step.actor),
            (Status.PAID, Status.CLAWED_BACK, self.inspector),
        )
        event = AuditEvent.objects.get(action="application.clawback")
        self.assertEqual((event.after or {})["amount"], "15000.00")
        self.assertIsNotNone(event.leaf_index)
        self.assertIn("追回", mail.outbox[0].subject)

    def test_only_a_paid_application_is_clawed_back_and_never_more_than_paid(self) -> None:
        with self.assertRaises(AuditRefused) as caught:
            fraud.claw_back(self.app, Decimal("15000.01"), actor=self.inspector, reason=REASON)
        self.assertIn("amount", caught.exception.message_dict)
        fraud.claw_back(self.app, Decimal("10000.00"), actor=self.inspector, reason=REASON)
        with self.assertRaisesMessage(AuditRefused, "只有已兑现的申请可以追回"):
            fraud.claw_back(self.app, Decimal("1.00"), actor=self.inspector, reason=REASON)

    def test_only_an_inspector_claws_back(self) -> None:
        with self.assertRaises(PermissionDenied):
            fraud.claw_back(self.app, Decimal("1.00"), actor=self.finance, reason=REASON)

    def test_a_clawback_cites_only_an_upheld_finding_of_the_same_application(self) -> None:
        finding = findings.record_finding(
            self.app, actor=self.inspector, description="x", source=Finding.Source.OTHER
        )
        with self.assertRaises(AuditRefused):
            fraud.claw_back(self.app, Decimal("1.00"), actor=self.inspector, reason=REASON, finding=finding)

    def test_repayments_close_the_receivable(self) -> None:
        claw = fraud.claw_back(self.app, Decimal("15000.00"), actor=self.inspector, reason=REASON)
        fraud.record_repayment(
            claw, amount=Decimal("5000.00"), date=dt.date(2026, 5, 6), reference="B-1", actor=self.finance
        )
        claw.refresh_from_db()
        self.assertEqual(
            (claw.status, claw.outstanding), (Clawback.Status.PARTIALLY_REPAID, Decimal("10000.00"))
        )
        with self.assertRaisesMessage(AuditRefused, "超过尚未缴回的 10,000.00 元"):
            fraud.record_repayment(
                claw,
                amount=Decimal("10000.01"),
                date=dt.date(2026, 5, 7),
                reference="B-2",
                actor=self.finance,
            )
        fraud.record_repayment(
            claw, amount=Decimal("10000.00"), date=dt.date(2026, 5, 7), reference="B-2", actor=self.inspector
        )
        claw.refresh_from_db()
        self.assertEqual((claw.status, claw.repaid), (Clawback.Status.REPAID, Decimal("15000.00")))
        self.assertEqual(AuditEvent.objects.filter(action="audit.repayment").count(), 2)
        with self.assertRaises(PermissionDenied):
            fraud.record_repayment(
                claw, amount=Decimal("1.00"), date=dt.date(2026, 5, 7), reference="B-3", actor=self.reviewer
            )

    def test_the_clawback_pages_work_through_the_forms(self) -> None:
        self.login(self.inspector)
        page = self.client.get(f"/audits/applications/{self.app.pk}/clawback/")
        self.assertContains(page, "15000.00")
        fields = {"amount": "10000.00", "reason": REASON}
        ask = self.client.post(f"/audits/applications/{self.app.pk}/clawback/", fields)
        # The first POST only states the consequence; nothing is clawed back before confirming.
        self.assertContains(ask, "确认后将向企业追回 10,000.00 元")
        self.assertContains(ask, "部分追回，企业保留 5,000.00 元")
        self.assertContains(ask, f'<input type="hidden" name="reason" value="{REASON}">', html=True)
        self.assertFalse(Clawback.objects.filter(application=self.app).exists())
        fields["amount"] = "15000.00"
        response = self.client.post(
            f"/audits/applications/{self.app.pk}/clawback/", {**fields, "confirmed": "1"}
        )
        self.assertRedirects(response, "/audits/clawbacks/")
        claw = Clawback.objects.get(application=self.app)
        self.login(self.finance)
        self.assertContains(self.client.get("/audits/clawbacks/"), self.app.reference or "")
        response = self.client.post(
            f"/audits/clawbacks/{claw.pk}/repay/",
            {"amount": "15000.00", "date": "2026-05-06", "reference": "B-9"},
        )
        self.assertRedirects(response, "/audits/clawbacks/")
        claw.refresh_from_db()
        self.assertEqual(claw.status, Clawback.Status.REPAID)
        self.login(self.reviewer)
        self.assertEqual(self.client.get("/audits/clawbacks/").status_code, 403)
        self.assertEqual(self.client.get(f"/audits/applications/{self.app.pk}/clawback/").status_code, 403)


class BlacklistTests(BaseTestCase):
    def blacklist(self, enterprise: Enterprise | None = None) -> Enterprise:
        with self.captureOnCommitCallbacks(execute=True):
            return fraud.blacklist_enterprise(
                enterprise or self.enterprise, reason=REASON, actor=self.inspector
            )

    def test_a_blacklisted_enterprise_cannot_submit_and_sees_why(self) -> None:
        draft = Application.objects.create(
            enterprise=self.enterprise,
            created_by=self.alice,
            status=Status.DRAFT,
            enterprise_name=self.enterprise.name,
        )
        self.blacklist()
        with self.assertRaises(intake.SubmissionRefused) as caught:
            intake.submit_application(draft, actor=self.alice)
        self.assertIn(REASON, " ".join(caught.exception.problems["enterprise"]))
        with self.assertRaises(intake.ActionRefused) as refused:
            intake.create_draft(actor=self.alice)
        self.assertIn(REASON, refused.exception.message)
        # On the pages: the start page and the submission both name the reason.
        self.login(self.alice)
        self.assertContains(self.client.get("/applications/new/"), REASON)
        response = self.client.post(f"/applications/{draft.pk}/submit/", follow=True)
        self.assertContains(response, REASON)
        draft.refresh_from_db()
        self.assertEqual(draft.status, Status.DRAFT)
        # The enterprise was told by e-mail, with the reason.
        self.assertIn(REASON, mail.outbox[0].body)

    def test_blacklisting_is_audited_and_can_be_lifted(self) -> None:
        self.blacklist()
        self.enterprise.refresh_from_db()
        self.assertTrue(self.enterprise.blacklisted)
        self.assertIsNotNone(self.enterprise.blacklisted_at)
        event = AuditEvent.objects.get(action="enterprise.blacklist")
        self.assertEqual(
            ((event.after or {})["reason"], event.enterprise_id_ref), (REASON, self.enterprise.pk)
        )
        with self.assertRaisesMessage(AuditRefused, "已在黑名单中"):
            self.blacklist()
        fraud.lift_blacklist(self.enterprise, reason="整改完毕，经复核移出", actor=self.inspector)
        self.enterprise.refresh_from_db()
        self.assertFalse(self.enterprise.blacklisted)
        self.assertEqual(self.enterprise.blacklist_reason, "")
        lifted = AuditEvent.objects.get(action="enterprise.blacklist_lift")
        self.assertEqual((lifted.before or {})["reason"], REASON)
        self.assertTrue(self.enterprise.can_apply)

    def test_only_an_inspector_blacklists(self) -> None:
        with self.assertRaises(PermissionDenied):
            fraud.blacklist_enterprise(self.enterprise, reason=REASON, actor=self.approver)
        with self.assertRaises(AuditRefused):
            fraud.blacklist_enterprise(self.enterprise, reason=" ", actor=self.inspector)

    def test_the_blacklist_page_adds_lists_and_lifts(self) -> None:
        self.login(self.inspector)
        fields = {"enterprise": self.other_enterprise.pk, "reason": REASON}
        ask = self.client.post("/audits/blacklist/", fields)
        self.assertContains(ask, "不能再提交补贴申报")
        self.assertFalse(Enterprise.objects.get(pk=self.other_enterprise.pk).blacklisted)
        response = self.client.post("/audits/blacklist/", {**fields, "confirmed": "1"})
        self.assertRedirects(response, "/audits/blacklist/")
        page = self.client.get("/audits/blacklist/")
        self.assertContains(page, self.other_enterprise.name)
        self.assertContains(page, REASON)
        response = self.client.post(f"/audits/blacklist/{self.other_enterprise.pk}/lift/", {"reason": "误列"})
        self.assertRedirects(response, "/audits/blacklist/")
        self.assertFalse(Enterprise.objects.get(pk=self.other_enterprise.pk).blacklisted)
        # Other staff read the list; only inspectors change it; applicants do not see it.
        self.login(self.reviewer)
        self.assertEqual(self.client.get("/audits/blacklist/").status_code, 200)
        response = self.client.post(
            "/audits/blacklist/", {"enterprise": self.enterprise.pk, "reason": REASON}
        )
        self.assertEqual(response.status_code, 403)
        self.login(self.alice)
        self.assertEqual(self.client.get("/audits/blacklist/").status_code, 403)

    def test_the_export_is_safe_against_formula_injection_and_audited(self) -> None:
        evil = Enterprise.objects.create(
            name='=HYPERLINK("http://evil.example","点击")',
            uscc="91110105MA00000001",
            status=Enterprise.Status.VERIFIED,
        )
        self.blacklist(evil)
        self.login(self.approver)
        response = self.client.get("/audits/blacklist.xlsx")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["X-Content-Type-Options"], "nosniff")
        sheet = load_workbook(io.BytesIO(response.content)).active
        assert sheet is not None
        self.assertEqual(sheet["A1"].value, "企业名称")
        self.assertEqual(sheet["A2"].value, "'" + evil.name)
        self.assertEqual(sheet["A2"].data_type, "s")
        self.assertEqual(sheet["D2"].value, REASON)
        self.assertTrue(
            AuditEvent.objects.filter(action="audit.blacklist_export", actor=self.approver).exists()
        )
        self.login(self.bob)
        self.assertEqual(self.client.get("/audits/blacklist.xlsx").status_code, 403)
