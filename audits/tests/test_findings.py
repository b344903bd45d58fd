"""Acceptance: an objection after the deadline is refused with the deadline named; one in time reaches
the inspector. Also the rest of the finding → notice → objection → decision flow."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import ClassVar

import time_machine
from django.conf import settings
from django.core import mail
from django.core.exceptions import PermissionDenied

from applications.models import Application
from audits import findings
from audits.guards import AuditRefused
from audits.models import DataNotice, Finding, ObjectionEvidence
from audits.tests.fixtures import make_paid_application
from core.models import Notification
from ledger.models import AuditEvent
from testing.fixtures import BaseTestCase, png_bytes, upload

BEIJING = dt.timezone(dt.timedelta(hours=8))
NOTICE_DAY = dt.date(2026, 6, 1)  # a Monday
DEADLINE = dt.date(2026, 6, 8)  # the 5th working day after it
LAST_MINUTE = dt.datetime(2026, 6, 8, 23, 59, tzinfo=BEIJING)
TOO_LATE = dt.datetime(2026, 6, 9, 0, 0, 1, tzinfo=BEIJING)


class FindingFlowTests(BaseTestCase):
    app: ClassVar[Application]

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.app = make_paid_application(
            cls.enterprise,
            cls.alice,
            "京剧备字2026017号",
            paid_at=dt.datetime(2026, 5, 10, tzinfo=BEIJING),
        )

    def notified(self) -> DataNotice:
        finding = findings.record_finding(
            self.app, actor=self.inspector, description="监控用量仅为申报的一半", source=Finding.Source.OTHER
        )
        with self.captureOnCommitCallbacks(execute=True):
            return findings.send_data_notice(
                finding,
                actor=self.inspector,
                text="申报成本 50000 元，监控费用 25000 元。",
                notice_date=NOTICE_DAY,
            )

    def test_a_data_notice_gives_five_working_days_and_tells_the_enterprise(self) -> None:
        notice = self.notified()
        self.assertEqual(notice.objection_deadline, DEADLINE)
        self.assertEqual(notice.finding.status, Finding.Status.NOTIFIED)
        self.assertEqual(len(mail.outbox), 1)
        message = mail.outbox[0]
        self.assertIn("2026年6月8日", message.subject)
        self.assertIn("alice@example.cn", message.to)
        self.assertIn(f"/audits/notices/{notice.pk}/", message.body)
        event = AuditEvent.objects.get(action="audit.data_notice")
        self.assertEqual(event.enterprise_id_ref, self.enterprise.pk)
        inbox = Notification.objects.get(user=self.alice, kind=Notification.Kind.DATA_NOTICE)
        self.assertEqual(inbox.link, f"/audits/notices/{notice.pk}/")
        self.assertFalse(Notification.objects.filter(user=self.bob).exists())

    def test_an_objection_after_the_deadline_is_refused_with_the_deadline_named(self) -> None:
        notice = self.notified()
        with time_machine.travel(TOO_LATE, tick=False):
            with self.assertRaises(AuditRefused) as caught:
                findings.file_objection(notice, actor=self.alice, statement="数据有误")
            self.assertIn("异议期限已于 2026年6月8日 届满", caught.exception.messages[0])
            # The page says the same and offers no form.
            self.login(self.alice)
            page = self.client.get(f"/audits/notices/{notice.pk}/")
            self.assertContains(page, "异议期限已于 2026年6月8日 届满")
            self.assertNotContains(page, "提交异议</button>")
            response = self.client.post(f"/audits/notices/{notice.pk}/", {"statement": "数据有误"})
            self.assertContains(response, "异议期限已于 2026年6月8日 届满", status_code=400)
        notice.finding.refresh_from_db()
        self.assertEqual(notice.finding.status, Finding.Status.NOTIFIED)
        refused = AuditEvent.objects.filter(action="audit.objection", result=AuditEvent.Result.FAILURE)
        self.assertEqual(refused.count(), 2)

    def test_an_objection_in_time_reaches_the_inspector(self) -> None:
        self.inspector.email = "inspector@example.cn"
        self.inspector.save(update_fields=["email"])
        notice = self.notified()
        mail.outbox.clear()
        with time_machine.travel(LAST_MINUTE, tick=False):
            self.login(self.alice)
            with self.captureOnCommitCallbacks(execute=True):
                response = self.client.post(
                    f"/audits/notices/{notice.pk}/",
                    {
                        "statement": "部分算力在自有机房完成，见附件结算单。",
                        "evidence": [upload("结算单.png", png_bytes())],
                    },
                )
            self.assertRedirects(response, f"/audits/notices/{notice.pk}/")
        finding = Finding.objects.get(pk=notice.finding_id)
        self.assertEqual(finding.status, Finding.Status.OBJECTED)
        evidence = ObjectionEvidence.objects.get(objection__notice=notice)
        self.assertEqual((evidence.original_name, evidence.mime), ("结算单.png", "image/png"))
        # The inspector is e-mailed, and the workbench lists it as ready for a decision.
        self.assertEqual([m.to for m in mail.outbox], [["inspector@example.cn"]])
        self.assertIn(f"/audits/findings/{finding.pk}/", mail.outbox[0].body)
        self.login(self.inspector)
        bench = self.client.get("/audits/")
        self.assertContains(bench, f"#{finding.pk}")
        self.assertContains(bench, "企业已提出异议")
        self.assertContains(bench, "待认定")
        page = self.client.get(f"/audits/findings/{finding.pk}/")
        self.assertContains(page, "部分算力在自有机房完成")
        self.assertContains(page, f"/audits/evidence/{evidence.pk}/")
        download = self.client.get(f"/audits/evidence/{evidence.pk}/")
        self.assertEqual(download.status_code, 200)
        self.assertEqual(download["X-Content-Type-Options"], "nosniff")
        self.assertIn("attachment", download["Content-Disposition"])
        # The objecting enterprise may fetch its own file; anyone else gets 404.
        self.login(self.alice)
        self.assertEqual(self.client.get(f"/audits/evidence/{evidence.pk}/").status_code, 200)
        for other in (self.bob, self.reviewer, self.outsider):
            self.login(other)
            self.assertEqual(self.client.get(f"/audits/evidence/{evidence.pk}/").status_code, 404, other)

    def test_only_the_notified_enterprise_may_object_and_see_the_notice(self) -> None:
        notice = self.notified()
        with time_machine.travel(LAST_MINUTE, tick=False):
            with self.assertRaises(PermissionDenied):
                findings.file_objection(notice, actor=self.bob, statement="x")
            self.login(self.bob)
            self.assertEqual(self.client.get(f"/audits/notices/{notice.pk}/").status_code, 404)
            self.assertEqual(self.client.get("/audits/notices/").status_code, 200)
            self.assertNotContains(self.client.get("/audits/notices/"), self.app.reference or "")
            self.login(self.alice)
            self.assertContains(self.client.get("/audits/notices/"), self.app.reference or "")

    def test_an_objection_is_taken_once(self) -> None:
        notice = self.notified()
        with time_machine.travel(LAST_MINUTE, tick=False):
            findings.file_objection(notice, actor=self.alice, statement="第一次")
            with self.assertRaisesMessage(AuditRefused, "不能再次提出"):
                findings.file_objection(notice, actor=self.alice, statement="第二次")

    def test_it_keeps_no_evidence_file_of_a_refused_objection(self) -> None:
        notice = self.notified()
        media = Path(settings.MEDIA_ROOT) / "objections"
        before = set(media.rglob("*")) if media.exists() else set()
        with time_machine.travel(LAST_MINUTE, tick=False):
            findings.file_objection(notice, actor=self.alice, statement="第一次")
            kept = set(media.rglob("*.png")) - before
            with self.assertRaises(AuditRefused):
                findings.file_objection(
                    notice, actor=self.alice, statement="第二次", files=[upload("证据.png", png_bytes())]
                )
        self.assertEqual(set(media.rglob("*.png")) - before, kept)

    def test_an_executable_disguised_as_evidence_is_refused(self) -> None:
        notice = self.notified()
        with time_machine.travel(LAST_MINUTE, tick=False), self.assertRaises(AuditRefused) as caught:
            findings.file_objection(
                notice,
                actor=self.alice,
                statement="见附件",
                files=[upload("证据.pdf", b"MZ\x90\x00" + b"\x00" * 64)],
            )
        self.assertIn("evidence", caught.exception.message_dict)
        self.assertEqual(Finding.objects.get(pk=notice.finding_id).status, Finding.Status.NOTIFIED)

    def test_the_inspector_decides_only_after_hearing_the_enterprise(self) -> None:
        notice = self.notified()
        finding = notice.finding
        with (
            time_machine.travel(dt.datetime(2026, 6, 3, 10, tzinfo=BEIJING), tick=False),
            self.assertRaisesMessage(AuditRefused, "异议期尚未届满（截止 2026年6月8日）"),
        ):
            findings.decide_finding(finding, actor=self.inspector, upheld=True, reasons="证据确凿")
        with time_machine.travel(TOO_LATE, tick=False), self.captureOnCommitCallbacks(execute=True):
            decided = findings.decide_finding(
                finding, actor=self.inspector, upheld=True, reasons="企业逾期未提出异议，证据确凿"
            )
        self.assertEqual(decided.status, Finding.Status.UPHELD)
        self.assertEqual(decided.decided_by, self.inspector)
        event = AuditEvent.objects.get(action="audit.finding.decide")
        self.assertEqual((event.after or {})["reasons"], "企业逾期未提出异议，证据确凿")
        self.assertIn("认定属实", mail.outbox[-1].subject)
        with self.assertRaisesMessage(AuditRefused, "已作出认定"):
            findings.decide_finding(finding, actor=self.inspector, upheld=False, reasons="改判")

    def test_an_open_finding_can_be_dismissed_but_not_upheld_without_a_notice(self) -> None:
        finding = findings.record_finding(
            self.app, actor=self.inspector, description="疑点", source=Finding.Source.OTHER
        )
        with self.assertRaisesMessage(AuditRefused, "须先向企业发送数据告知"):
            findings.decide_finding(finding, actor=self.inspector, upheld=True, reasons="x")
        with self.assertRaises(AuditRefused) as caught:
            findings.decide_finding(finding, actor=self.inspector, upheld=False, reasons="  ")
        self.assertIn("reasons", caught.exception.message_dict)
        self.assertEqual(
            findings.decide_finding(finding, actor=self.inspector, upheld=False, reasons="误报").status,
            Finding.Status.DISMISSED,
        )

    def test_only_inspectors_record_findings_and_send_notices(self) -> None:
        with self.assertRaises(PermissionDenied):
            findings.record_finding(
                self.app, actor=self.reviewer, description="x", source=Finding.Source.OTHER
            )
        finding = findings.record_finding(
            self.app, actor=self.inspector, description="x", source=Finding.Source.OTHER
        )
        with self.assertRaises(PermissionDenied):
            findings.send_data_notice(finding, actor=self.head, text="x")

    def test_the_finding_pages_work_through_the_forms(self) -> None:
        self.login(self.inspector)
        response = self.client.post(
            f"/audits/applications/{self.app.pk}/findings/",
            {"source": "other", "description": "经抽查核实，监控用量不足", "amount_at_issue": "5000.00"},
        )
        finding = Finding.objects.get(application=self.app)
        self.assertRedirects(response, f"/audits/findings/{finding.pk}/")
        response = self.client.post(f"/audits/findings/{finding.pk}/notice/", {"text": "请说明差异"})
        self.assertRedirects(response, f"/audits/findings/{finding.pk}/")
        self.assertContains(self.client.get(f"/audits/findings/{finding.pk}/"), "异议截止")
        response = self.client.post(
            f"/audits/findings/{finding.pk}/decide/", {"decision": "upheld", "reasons": "x"}
        )
        self.assertContains(response, "异议期尚未届满", status_code=400)
