"""The findings sheet of the report workbook names every column in Chinese and every related row in words."""

from __future__ import annotations

import datetime as dt
import io

import time_machine
from django.urls import reverse
from openpyxl import load_workbook

from applications.states import Status
from audits import findings
from audits.models import Finding, ReconciliationRun
from audits.tests.fixtures import make_application
from testing.fixtures import BaseTestCase

BEIJING = dt.timezone(dt.timedelta(hours=8))


class FindingsSheetTests(BaseTestCase):
    def test_it_writes_no_english_id_header_and_no_internal_reconciliation_code(self) -> None:
        with time_machine.travel(dt.datetime(2026, 6, 1, 9, 0, tzinfo=BEIJING), tick=False):
            app = make_application(
                self.enterprise,
                self.alice,
                "京剧备字2026031号",
                cost="1000.00",
                work_minutes=10,
                status=Status.PAID,
                granted="100.00",
            )
            findings.record_finding(
                app, actor=self.inspector, description="用量不符", source=Finding.Source.OTHER
            )
            self.login(self.approver)
            content = self.client.get(reverse("reports:export_xlsx"), {"year": 2026}).content
        sheet = load_workbook(io.BytesIO(content))["稽查发现"]
        headers = [cell.value for cell in sheet[1]]
        self.assertNotIn("ID", headers)
        self.assertIn("核查发现编号", headers)
        run = ReconciliationRun(
            run_at=dt.datetime(2026, 6, 1, 1, 0, tzinfo=dt.UTC), flag_count=1, checkpoint_tree_size=675
        )
        self.assertEqual(str(run), "2026年6月1日 09:00 对账，标记 1 项")
