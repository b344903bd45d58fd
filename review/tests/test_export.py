"""The 台账 export: XLSX of applications with amounts and dates for a period, formula-injection safe."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

from django.urls import reverse
from openpyxl import load_workbook

from applications.states import Status
from ledger.models import AuditEvent
from review import actions
from review.tests.helpers import ReviewTestCase
from testing.fixtures import make_application

SH = ZoneInfo("Asia/Shanghai")


class LedgerExportTests(ReviewTestCase):
    def export(self, **params: str):  # type: ignore[no-untyped-def]
        return self.client.get(
            reverse("review:ledger_export"), {"from": "2026-03-01", "to": "2026-03-31", **params}
        )

    def test_it_exports_the_applications_of_the_period_with_amounts_and_dates(self) -> None:
        inside = make_application(
            self.enterprise,
            self.alice,
            Status.FINAL_APPROVAL,
            submitted=dt.datetime(2026, 3, 31, 23, 30, tzinfo=SH),
        )
        actions.approve_application(inside, actor=self.approver, opinion="同意补助")
        make_application(
            self.enterprise, self.alice, Status.SUBMITTED, submitted=dt.datetime(2026, 4, 1, 0, 30, tzinfo=SH)
        )
        make_application(self.enterprise, self.alice, Status.DRAFT)
        self.login(self.finance)
        response = self.export()
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            response["Content-Type"], "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        sheet = load_workbook(io.BytesIO(response.content)).active
        assert sheet is not None
        rows = list(sheet.iter_rows(values_only=True))
        self.assertEqual(rows[0][:3], ("申报编号", "企业名称", "统一社会信用代码"))
        self.assertEqual(len(rows), 3)
        row = dict(zip(rows[0], rows[1], strict=True))
        totals = dict(zip(rows[0], rows[2], strict=True))
        self.assertEqual(totals["申报编号"], "合计（1 件）")
        self.assertEqual(totals["核定补贴金额（元）"], 15000)
        self.assertIn("追回金额（元）", rows[0])
        self.assertEqual(row["申报编号"], inside.reference)
        self.assertEqual(row["核定补贴金额（元）"], 15000)
        self.assertEqual(row["提交日期"], dt.datetime(2026, 3, 31))
        self.assertEqual(row["状态"], "已审批")
        event = AuditEvent.objects.get(action="review.ledger_export")
        self.assertEqual(event.after, {"from": "2026-03-01", "to": "2026-03-31", "rows": 1})
        self.assertEqual(event.actor, self.finance)

    def test_text_that_looks_like_a_formula_is_exported_as_inert_text(self) -> None:
        make_application(
            self.enterprise,
            self.alice,
            Status.SUBMITTED,
            submitted=dt.datetime(2026, 3, 5, 9, tzinfo=SH),
            enterprise_name='=HYPERLINK("http://evil.example","点我")',
            work_title="+1+cmd|' /C calc'!A0",
            filing_number="@SUM(1+1)",
        )
        self.login(self.reviewer)
        sheet = load_workbook(io.BytesIO(self.export().content)).active
        assert sheet is not None
        cells = {c.value: c for c in sheet[2]}
        for text in ('\'=HYPERLINK("http://evil.example","点我")', "'+1+cmd|' /C calc'!A0", "'@SUM(1+1)"):
            self.assertIn(text, cells)
            self.assertEqual(cells[text].data_type, "s")

    def test_a_bad_period_is_refused(self) -> None:
        self.login(self.finance)
        self.assertEqual(self.export(to="2026-02-01").status_code, 400)

    def test_without_a_period_it_exports_this_year_so_far(self) -> None:
        import time_machine

        with time_machine.travel(dt.datetime(2026, 12, 5, 10, tzinfo=SH), tick=False):
            make_application(
                self.enterprise, self.alice, Status.SUBMITTED, submitted=dt.datetime(2026, 3, 5, 9, tzinfo=SH)
            )
            self.login(self.finance)
            response = self.client.get(reverse("review:ledger_export"))
        self.assertEqual(response.status_code, 200)
        event = AuditEvent.objects.get(action="review.ledger_export")
        self.assertEqual(event.after, {"from": "2026-02-05", "to": "2026-12-05", "rows": 1})

    def test_applicants_cannot_export(self) -> None:
        self.login(self.alice)
        self.assertEqual(self.export().status_code, 403)
