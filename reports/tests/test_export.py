from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import time_machine
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook

from ledger.models import AuditEvent
from reports.tests.fixtures import INJECTION, NOW, ReportFixture

URL = "/reports/export.xlsx"


def rows(wb: Workbook, sheet: str) -> list[list[Any]]:
    return [list(r) for r in wb[sheet].iter_rows(values_only=True)]


@time_machine.travel(NOW, tick=False)
class ExportAccessTests(ReportFixture):
    def test_anonymous_visitor_is_redirected_to_login(self) -> None:
        response = self.client.get(URL)
        self.assertEqual(response.status_code, 302)
        self.assertIn("/accounts/login/", response["Location"])

    def test_applicant_provider_and_outsider_get_403_and_nothing_is_logged(self) -> None:
        for user in (self.alice, self.provider_user, self.outsider):
            self.login(user)
            self.assertEqual(self.client.get(URL).status_code, 403, user.username)
        self.assertFalse(AuditEvent.objects.filter(action="report.export").exists())


@time_machine.travel(NOW, tick=False)
class ExportContentTests(ReportFixture):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        from audits.models import Finding

        Finding.objects.create(
            application=cls.apps["C1"],
            source=Finding.Source.RECONCILIATION,
            description="-申报用量超出监控用量",
            amount_at_issue=Decimal("1200.00"),
            created_by=cls.inspector,
        )

    def download(self, year: int = 2026) -> Workbook:
        self.login(self.finance)
        response = self.client.get(URL, {"year": year})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            response["Content-Type"], "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        self.assertEqual(response["Content-Disposition"], f'attachment; filename="yingdu-report-{year}.xlsx"')
        return load_workbook(io.BytesIO(response.content))

    def test_it_has_the_seven_sheets(self) -> None:
        self.assertEqual(
            self.download().sheetnames,
            ["申请汇总", "月度统计", "时限达标", "算力提供方", "稽查发现", "好差评", "用量与支出"],
        )

    def test_application_sheet_lists_the_years_submissions(self) -> None:
        sheet = rows(self.download(), "申请汇总")
        self.assertEqual(sheet[0][:3], ["申报编号", "企业名称", "统一社会信用代码"])
        self.assertEqual(
            [r[0] for r in sheet[1:]],
            [
                "YD2026-0001",
                "YD2026-0002",
                "YD2026-0003",
                "YD2026-0004",
                "YD2026-0005",
                "YD2026-0006",
                "YD2026-0007",
            ],
        )
        a1 = sheet[2]
        self.assertEqual(a1[1], "北京影都智造文化传媒有限公司")
        self.assertEqual(a1[7], "已兑现")
        self.assertEqual(a1[8], dt.datetime(2026, 3, 2))
        self.assertEqual(a1[10:12], [12000, 12000])
        self.assertEqual(a1[13:15], [dt.datetime(2026, 3, 20), 12000])

    def test_a_formula_in_a_company_name_is_written_as_inert_text(self) -> None:
        wb = self.download()
        ws = wb["申请汇总"]
        name_cell, title_cell = ws.cell(row=8, column=2), ws.cell(row=8, column=4)
        self.assertEqual(name_cell.value, "'" + INJECTION)
        self.assertEqual(name_cell.data_type, "s")
        self.assertEqual(title_cell.value, "'" + INJECTION)
        deadlines = rows(wb, "时限达标")
        self.assertEqual(deadlines[7][1], "'" + INJECTION)
        providers = rows(wb, "算力提供方")
        self.assertIn("'=cmd|' /C calc'!A0", [r[0] for r in providers])
        for sheet in wb.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    self.assertNotEqual(cell.data_type, "f", f"{sheet.title}!{cell.coordinate}")

    def test_monthly_sheet_has_the_months_totals_and_budget(self) -> None:
        sheet = rows(self.download(), "月度统计")
        self.assertEqual(sheet[3], ["2026年3月", 2, 17000, 2, 17000, 2, 22000, 0, 0, 0, 0, 27000, 22000])
        self.assertEqual(sheet[4][7:11], [10000, 0, 0, 6000])
        self.assertEqual(sheet[5][7:11], [0, 4000, 0, 0])
        self.assertEqual(
            sheet[13], ["合计", 7, 96000, 4, 42000, 3, 27000, 10000, 4000, 0, 6000, 42000, 27000]
        )
        self.assertEqual(sheet[15][:3], ["年度预算（元）", 5000000, "区文促中心年度预算（示例）"])
        self.assertEqual(sheet[16][:2], ["预算余额（元）", 4968000])

    def test_deadline_sheet_shows_each_applications_deadlines_and_a_summary(self) -> None:
        sheet = rows(self.download(), "时限达标")
        by_ref = {r[0]: r for r in sheet[1:8]}
        b3 = by_ref["YD2026-0003"]
        # Ten working days after 03-02, plus the eleven spent waiting for the supplement.
        self.assertEqual(b3[4], dt.datetime(2026, 3, 31))
        self.assertEqual(b3[6], "按期")
        self.assertEqual(by_ref["YD2026-0004"][6], "超期")
        self.assertEqual(by_ref["YD2026-0004"][10], "已超期未办结")
        self.assertEqual(by_ref["YD2026-0005"][12], "—")
        summary = {r[0]: r[1:7] for r in sheet[9:]}
        self.assertEqual(
            sheet[9][:7], ["指标", "按期", "超期", "已超期未办结", "办理中", "无法计算", "达标率（%）"]
        )
        self.assertEqual(summary["审核时限"], [4, 1, 1, 1, 0, 66.7])
        self.assertEqual(summary["兑现时限"], [3, 0, 1, 0, 0, 75])

    def test_provider_sheet_has_one_row_per_provider_and_scenario(self) -> None:
        sheet = rows(self.download(), "算力提供方")
        self.assertEqual(
            sheet[1:],
            [
                ["'=cmd|' /C calc'!A0", "文生视频", 1, 0.5, 20],
                ["怀柔智算中心", "文生视频", 1, 2, 100],
                ["怀柔智算中心", "渲染", 1, 1, 50],
            ],
        )

    def test_findings_sheet_lists_the_years_findings_with_the_enterprise(self) -> None:
        sheet = rows(self.download(), "稽查发现")
        header, finding = sheet[0], sheet[1]
        self.assertEqual(header[0], "企业名称")
        self.assertEqual(finding[0], "'" + INJECTION)
        self.assertIn("'-申报用量超出监控用量", finding)
        self.assertIn("待告知", finding)
        self.assertIn("对账", finding)

    def test_each_export_is_an_audit_event(self) -> None:
        self.download(2026)
        event = AuditEvent.objects.get(action="report.export")
        self.assertEqual(event.actor, self.finance)
        assert event.after is not None
        self.assertEqual(event.after["year"], 2026)
        self.assertEqual(event.after["format"], "xlsx")
        self.assertEqual(
            event.after["rows"],
            {"申请汇总": 7, "月度统计": 13, "时限达标": 7, "算力提供方": 3, "稽查发现": 1, "好差评": 14, "用量与支出": 0},
        )
        self.assertIsNotNone(event.leaf_index)

    def test_a_year_without_data_exports_headers_only(self) -> None:
        wb = self.download(2031)
        self.assertEqual(len(rows(wb, "申请汇总")), 1)
        self.assertEqual(rows(wb, "月度统计")[13][1], 0)
