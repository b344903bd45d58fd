from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import time_machine
from django.core.management import CommandError, call_command
from openpyxl import load_workbook

from ledger.models import AuditEvent
from reports.tests.fixtures import NOW, ReportFixture


@time_machine.travel(NOW, tick=False)
class ReportsCommandTests(ReportFixture):
    def run_command(self, *args: str) -> str:
        out = io.StringIO()
        call_command("reports", *args, stdout=out)
        return out.getvalue()

    def test_summary_prints_the_years_key_figures(self) -> None:
        text = self.run_command("summary", "--year", "2026")
        self.assertIn("提交申请：7 件（审核中 2，已审批 4，未通过 1）", text)
        self.assertIn("申请金额：96000.00 元；核定：42000.00 元；兑现：27000.00 元", text)
        self.assertIn("追回：10000.00 元；缴回：4000.00 元；核销：0.00 元；追回未结：6000.00 元", text)
        self.assertIn("审核时限：按期 4，超期 1，超期未办结 1，办理中 1，达标率 66.7%", text)

    def test_summary_json_is_the_dashboards_data(self) -> None:
        data = json.loads(self.run_command("summary", "--year", "2026", "--json"))
        self.assertEqual(data["totals"]["granted"], "42000.00")
        self.assertEqual(data["budget"]["amount"], "5000000.00")

    def test_export_writes_the_workbook_and_logs_it(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "2026.xlsx"
            self.run_command("export", "--year", "2026", "-o", str(path), "--user", "inspector")
            self.assertEqual(load_workbook(path).sheetnames[0], "申请汇总")
        event = AuditEvent.objects.get(action="report.export")
        self.assertEqual(event.actor, self.inspector)

    def test_export_refuses_a_user_who_is_not_center_staff(self) -> None:
        with tempfile.TemporaryDirectory() as tmp, self.assertRaises(CommandError):
            self.run_command("export", "-o", str(Path(tmp) / "x.xlsx"), "--user", "alice")
        self.assertFalse(AuditEvent.objects.filter(action="report.export").exists())
