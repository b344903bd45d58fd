"""One money record: a partial clawback keeps the enterprise's share in every figure (quota,
reviewer's view, dashboard, workbook, summary), repayments come in instalments, a write-off
closes what cannot be collected, and the clawback form proposes the finding's amount."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from typing import ClassVar

import time_machine
from django.core.management import call_command
from django.urls import reverse
from openpyxl import load_workbook

from applications.models import AnnualGrant, Application
from applications.money import enterprise_year_money, kept_total
from applications.states import Status
from audits import fraud
from audits.guards import AuditRefused
from audits.models import Clawback, Finding
from reports import queries
from reports.exports import build_workbook
from review import actions as review
from review.tests.helpers import ReviewTestCase
from testing.fixtures import make_application

BEIJING = dt.timezone(dt.timedelta(hours=8))
REASON = "虚报部分算力消耗，经核查属实"


def at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=BEIJING)


class PartialClawbackTests(ReviewTestCase):
    """The case of the issue: 4,871.10 clawed back of a 9,750.00 payment."""

    app: ClassVar[Application]
    finding: ClassVar[Finding]

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        with time_machine.travel(at("2026-03-10"), tick=False):
            # 30 % of 32,500.00 = 9,750.00 (the minute cap of 100 × 200 does not bind).
            cls.app = make_application(
                cls.enterprise,
                cls.alice,
                Status.FINAL_APPROVAL,
                submitted=at("2026-03-02"),
                cost="32500.00",
                minutes=100,
            )
            review.approve_application(cls.app, actor=cls.approver, opinion="同意按核定金额补助")
            review.record_payment(
                cls.app,
                date=dt.date(2026, 3, 10),
                amount=Decimal("9750.00"),
                bank_reference="PAY-1",
                actor=cls.finance,
            )
        cls.finding = Finding.objects.create(
            application=cls.app,
            source=Finding.Source.SPOT_CHECK,
            description="结算凭证中有 4,871.10 元与监控记录不符",
            amount_at_issue=Decimal("4871.10"),
            status=Finding.Status.UPHELD,
            created_by=cls.inspector,
            decided_by=cls.inspector,
            decided_at=at("2026-04-20"),
            decision_reasons="企业未能说明",
        )

    def claw(self, amount: str | None = "4871.10") -> Clawback:
        with time_machine.travel(at("2026-05-06"), tick=False):
            return fraud.claw_back(
                self.app,
                Decimal(amount) if amount else None,
                actor=self.inspector,
                reason=REASON,
                finding=self.finding,
            )

    def test_it_marks_the_application_partially_clawed_back_and_keeps_the_rest_in_the_quota(self) -> None:
        self.claw()
        self.app.refresh_from_db()
        self.assertEqual(self.app.status, Status.PARTIALLY_CLAWED_BACK)
        self.assertEqual(self.app.get_status_display(), "部分追回")
        self.assertEqual(
            (
                self.app.granted_amount,
                self.app.paid_amount,
                self.app.clawed_back_amount,
                self.app.kept_amount,
            ),
            (Decimal("9750.00"), Decimal("9750.00"), Decimal("4871.10"), Decimal("4878.90")),
        )
        self.assertEqual(kept_total(self.enterprise.pk, 2026), Decimal("4878.90"))
        grant = AnnualGrant.objects.get(enterprise=self.enterprise, year=2026)
        self.assertEqual(grant.total, Decimal("4878.90"))
        # The applicant's 剩余额度: cap 100,000.00 − kept 4,878.90.
        with time_machine.travel(at("2026-05-06"), tick=False):
            overview = queries.enterprise_overview(self.enterprise.pk, self.alice)
        self.assertEqual(overview["quota"]["granted"], Decimal("4878.90"))
        self.assertEqual(overview["quota"]["left"], Decimal("95121.10"))
        self.login(self.alice)
        with time_machine.travel(at("2026-05-06"), tick=False):
            page = self.client.get(reverse("applications:detail", args=[self.app.pk]))
        self.assertContains(page, "部分追回")
        self.assertContains(page, "追回 4,871.10 元，企业保留 4,878.90 元")

    def test_it_shows_the_clawback_in_every_report_with_totals_equal_to_their_rows(self) -> None:
        claw = self.claw()
        with time_machine.travel(at("2026-06-02"), tick=False):
            fraud.record_repayment(
                claw, amount=Decimal("1000.00"), date=dt.date(2026, 6, 1), reference="R-1", actor=self.finance
            )
            data = queries.dashboard(2026)
            out = io.StringIO()
            call_command("reports", "summary", "--year", "2026", "--json", stdout=out)
            workbook, _counts = build_workbook(2026)
        totals = data["totals"]
        self.assertEqual(
            (
                totals["granted"],
                totals["paid"],
                totals["clawed_back"],
                totals["repaid"],
                totals["outstanding"],
            ),
            ("9750.00", "9750.00", "4871.10", "1000.00", "3871.10"),
        )
        # 审核中 0 / 已审批 1 / 未通过 0 for the one application of the year.
        self.assertEqual((totals["in_review"], totals["approved"], totals["rejected"]), (0, 1, 0))
        self.assertEqual(totals["clawed_back_count"], 1)
        # budget − granted + repaid (the 3,871.10 still owed is no money back)
        self.assertEqual(data["budget"]["left"], "4991250.00")
        for key in ("granted", "paid", "clawed_back", "repaid", "written_off", "outstanding"):
            self.assertEqual(sum(Decimal(v) for v in data["monthly"][key]), Decimal(totals[key]), key)
        self.assertEqual(json.loads(out.getvalue())["totals"], totals)
        sheet = [
            list(r)
            for r in load_workbook(io.BytesIO(workbook), read_only=True)["月度统计"].iter_rows(
                values_only=True
            )
        ]
        header, total_row = sheet[0], sheet[13]
        self.assertEqual(total_row[0], "合计")
        column = dict(zip(header, total_row, strict=False))
        self.assertEqual(column["审批通过件数"], 1)
        self.assertEqual(Decimal(str(column["核定金额（元）"])), Decimal("9750.00"))
        self.assertEqual(Decimal(str(column["追回金额（元）"])), Decimal("4871.10"))
        self.assertEqual(Decimal(str(column["缴回金额（元）"])), Decimal("1000.00"))
        self.assertEqual(Decimal(str(column["追回未结（元）"])), Decimal("3871.10"))
        may = dict(zip(header, sheet[5], strict=False))
        self.assertEqual(Decimal(str(may["追回金额（元）"])), Decimal("4871.10"))

    def test_the_reviewer_sees_what_the_enterprise_keeps(self) -> None:
        self.claw()
        other = make_application(
            self.enterprise, self.alice, Status.INITIAL_REVIEW, submitted=at("2026-04-01")
        )
        self.login(self.reviewer)
        page = self.client.get(reverse("review:detail", args=[other.pk]))
        self.assertContains(page, "已核定并保留 4,878.90 元")
        self.assertContains(page, "剩余 95,121.10 元")

    def test_it_proposes_the_findings_amount_and_preselects_the_finding(self) -> None:
        self.login(self.inspector)
        page = self.client.get(reverse("audits:clawback", args=[self.app.pk]))
        html = page.content.decode()
        self.assertIn('value="4871.10"', html)
        self.assertRegex(
            html,
            rf'<option value="{self.finding.pk}" selected>核查发现 #{self.finding.pk}（涉及金额 4,871.10 元）',
        )
        # Without an amount the action takes the finding's, and names the finding.
        claw = self.claw(amount=None)
        self.assertEqual((claw.amount, claw.finding_id), (Decimal("4871.10"), self.finding.pk))
        self.login(self.finance)
        listing = self.client.get(reverse("audits:clawbacks"))
        self.assertContains(listing, f"核查发现 #{self.finding.pk}")

    def test_it_takes_repayments_in_instalments_and_writes_off_the_rest(self) -> None:
        claw = self.claw()
        with time_machine.travel(at("2026-06-02"), tick=False):
            for day, amount in ((1, "1000.00"), (2, "871.10")):
                fraud.record_repayment(
                    claw,
                    amount=Decimal(amount),
                    date=dt.date(2026, 6, day),
                    reference=f"R-{day}",
                    actor=self.finance,
                )
            claw.refresh_from_db()
            self.assertEqual(
                (claw.status, claw.outstanding), (Clawback.Status.PARTIALLY_REPAID, Decimal("3000.00"))
            )
            with self.assertRaises(AuditRefused):
                fraud.write_off_clawback(claw, reason="  ", actor=self.finance)
            fraud.write_off_clawback(claw, reason="企业已注销，无法追缴", actor=self.finance)
        claw.refresh_from_db()
        self.app.refresh_from_db()
        self.assertEqual(
            (claw.status, claw.written_off, claw.outstanding),
            (Clawback.Status.WRITTEN_OFF, Decimal("3000.00"), 0),
        )
        self.assertEqual(
            (self.app.repaid_amount, self.app.written_off_amount, self.app.outstanding_amount),
            (Decimal("1871.10"), Decimal("3000.00"), Decimal("0.00")),
        )
        money = enterprise_year_money(self.enterprise.pk, 2026)
        self.assertEqual(
            (money.clawed_back, money.repaid, money.written_off, money.outstanding, money.kept),
            (Decimal("4871.10"), Decimal("1871.10"), Decimal("3000.00"), Decimal("0.00"), Decimal("4878.90")),
        )
        with self.assertRaises(AuditRefused):
            fraud.write_off_clawback(claw, reason="再次核销", actor=self.finance)

    def test_a_full_clawback_frees_the_whole_award(self) -> None:
        self.claw("9750.00")
        self.app.refresh_from_db()
        self.assertEqual((self.app.status, self.app.kept_amount), (Status.CLAWED_BACK, Decimal("0.00")))
        self.assertEqual(kept_total(self.enterprise.pk, 2026), Decimal("0.00"))

    def test_the_money_record_refuses_inconsistent_figures(self) -> None:
        from django.db import IntegrityError, transaction

        for fields in (
            {"clawed_back_amount": Decimal("9750.01")},
            {"repaid_amount": Decimal("1.00")},
            {"paid_amount": Decimal("9750.01")},
        ):
            with (
                self.subTest(**{k: str(v) for k, v in fields.items()}),
                self.assertRaises(IntegrityError),
                transaction.atomic(),
            ):
                Application.objects.filter(pk=self.app.pk).update(**fields)
