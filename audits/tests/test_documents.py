"""The data notice and the clawback decision as PDFs the center signs: pyHanko finds them intact,
valid and trusted; only the enterprise concerned and the staff who deal with them may download."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import ClassVar

import time_machine
from django.urls import reverse

from applications.models import AnnualGrant, Application
from applications.states import Status
from audits import findings, fraud
from audits.models import Clawback, DataNotice, Finding
from audits.tests.fixtures import make_application, make_paid_application
from ledger.models import AuditEvent
from testing.fixtures import BaseTestCase, pades_status, signed_pdf, upload

BEIJING = dt.timezone(dt.timedelta(hours=8))


def pdf_text(content: bytes) -> str:
    from pypdf import PdfReader

    return "".join("".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(content)).pages)


class AuditDocumentTests(BaseTestCase):
    app: ClassVar[Application]
    notice: ClassVar[DataNotice]
    clawback: ClassVar[Clawback]

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.app = make_paid_application(
            cls.enterprise,
            cls.alice,
            "京剧备字2026031号",
            paid_at=dt.datetime(2026, 5, 10, tzinfo=BEIJING),
        )
        AnnualGrant.objects.create(
            enterprise=cls.enterprise, year=2026, total=Decimal("15000.00"), cap=Decimal("100000.00")
        )
        finding = findings.record_finding(
            cls.app, actor=cls.inspector, description="监控用量仅为申报的一半", source=Finding.Source.OTHER
        )
        cls.notice = findings.send_data_notice(
            finding, actor=cls.inspector, text="申报成本五万元，监控费用两万五千元。", notice_date=dt.date(2026, 6, 1)
        )
        # The objection period ended long before today; the finding is upheld.
        finding = findings.decide_finding(finding, actor=cls.inspector, upheld=True, reasons="企业未提出异议，核查属实")
        cls.clawback = fraud.claw_back(
            cls.app, Decimal("15000.00"), actor=cls.inspector, reason="虚报算力消耗，经核查属实", finding=finding
        )

    def test_it_issues_the_data_notice_as_a_pdf_the_center_signed(self) -> None:
        self.login(self.alice)
        response = self.client.get(reverse("audits:notice_pdf", args=[self.notice.pk]))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "application/pdf")
        status = pades_status(response.content)
        self.assertTrue(status.intact and status.valid and status.trusted)
        text = pdf_text(response.content)
        self.assertIn("核查数据告知书", text)
        self.assertIn("申报成本五万元，监控费用两万五千元。", text)
        self.assertTrue(AuditEvent.objects.filter(action="audit.notice_pdf_download").exists())
        self.login(self.bob)
        self.assertEqual(self.client.get(reverse("audits:notice_pdf", args=[self.notice.pk])).status_code, 404)

    def test_it_issues_the_clawback_decision_as_a_pdf_the_center_signed(self) -> None:
        self.login(self.finance)
        response = self.client.get(reverse("audits:clawback_pdf", args=[self.clawback.pk]))
        self.assertEqual(response.status_code, 200)
        status = pades_status(response.content)
        self.assertTrue(status.intact and status.valid and status.trusted)
        self.assertIsNotNone(status.timestamp_validity)
        text = pdf_text(response.content)
        self.assertIn("追回决定书", text)
        self.assertIn("15,000.00", text)
        for outsider in (self.bob, self.reviewer):
            self.login(outsider)
            self.assertEqual(
                self.client.get(reverse("audits:clawback_pdf", args=[self.clawback.pk])).status_code, 404
            )

    def test_it_checks_the_signatures_of_objection_evidence_and_shows_them_to_the_inspector(self) -> None:
        app = make_application(
            self.enterprise,
            self.alice,
            "京剧备字2026032号",
            cost="50000.00",
            work_minutes=100,
            status=Status.PAID,
            paid_at=dt.datetime(2026, 5, 10, tzinfo=BEIJING),
            granted="15000.00",
        )
        finding = findings.record_finding(
            app, actor=self.inspector, description="结算凭证金额存疑", source=Finding.Source.OTHER
        )
        notice = findings.send_data_notice(
            finding, actor=self.inspector, text="结算凭证金额与监控不符。", notice_date=dt.date(2026, 6, 1)
        )
        with time_machine.travel(dt.datetime(2026, 6, 2, 10, tzinfo=BEIJING), tick=False):
            objection = findings.file_objection(
                notice,
                actor=self.alice,
                statement="附算力提供方盖章的结算凭证。",
                files=[upload("结算凭证.pdf", signed_pdf(signer="怀柔智算中心电子签章", organization="怀柔智算中心"))],
            )
        evidence = objection.evidence.get()
        self.assertEqual(evidence.signature["status"], "valid")
        self.login(self.inspector)
        response = self.client.get(reverse("audits:finding", args=[finding.pk]))
        self.assertContains(response, 'data-signature="valid"')
        self.assertContains(response, "签署人：怀柔智算中心电子签章，怀柔智算中心")
