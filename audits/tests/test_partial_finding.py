"""部分认定: a finding upheld for part of its amount at issue; the clawback proposes that part."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import ClassVar

import time_machine
from django.urls import reverse

from applications.models import Application
from audits import findings, fraud
from audits.guards import AuditRefused
from audits.models import Finding
from audits.tests.fixtures import make_paid_application
from testing.fixtures import BaseTestCase

BEIJING = dt.timezone(dt.timedelta(hours=8))
AFTER_DEADLINE = dt.datetime(2026, 6, 15, 10, tzinfo=BEIJING)


class PartialFindingTests(BaseTestCase):
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

    def notified_finding(self) -> Finding:
        finding = findings.record_finding(
            self.app,
            actor=self.inspector,
            description="监控用量少于申报",
            source=Finding.Source.OTHER,
            amount_at_issue=Decimal("1260.00"),
        )
        findings.send_data_notice(
            finding, actor=self.inspector, text="差额 1,260.00 元", notice_date=dt.date(2026, 6, 1)
        )
        return finding

    @time_machine.travel(AFTER_DEADLINE, tick=False)
    def test_it_records_a_partial_finding_with_the_amount_found_and_proposes_it_for_the_clawback(
        self,
    ) -> None:
        finding = self.notified_finding()
        self.login(self.inspector)
        response = self.client.post(
            reverse("audits:decide", args=[finding.pk]),
            {
                "decision": "partial",
                "amount_found": "420.00",
                "reasons": "部分渲染在合作方节点完成，余额属实",
            },
        )
        self.assertEqual(response.status_code, 302)
        finding.refresh_from_db()
        self.assertEqual((finding.status, finding.amount_found), (Finding.Status.PARTIAL, Decimal("420.00")))
        self.assertEqual(finding.get_status_display(), "部分认定")
        page = self.client.get(reverse("audits:finding", args=[finding.pk])).content.decode()
        self.assertIn("部分认定", page)
        self.assertIn("认定金额 420.00 元", page)
        clawback_form = self.client.get(reverse("audits:clawback", args=[self.app.pk])).content.decode()
        self.assertIn('value="420.00"', clawback_form)
        clawback = fraud.claw_back(self.app, actor=self.inspector, reason="按认定金额追回", finding=finding)
        self.assertEqual(clawback.amount, Decimal("420.00"))

    def test_it_refuses_a_partial_amount_above_the_amount_at_issue_or_missing(self) -> None:
        finding = self.notified_finding()
        with time_machine.travel(AFTER_DEADLINE, tick=False), self.assertRaises(AuditRefused):
            findings.decide_finding(
                finding, actor=self.inspector, upheld=True, reasons="x", amount_found=Decimal("2000.00")
            )
        self.login(self.inspector)
        with time_machine.travel(AFTER_DEADLINE, tick=False):
            response = self.client.post(
                reverse("audits:decide", args=[finding.pk]), {"decision": "partial", "reasons": "部分属实"}
            )
        self.assertContains(response, "部分认定须填写认定金额", status_code=400)
