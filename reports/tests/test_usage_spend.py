"""Spend by kind, vendor and unit on the dashboard and in the XLSX (docs/reports.md)."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import time_machine
from openpyxl import load_workbook

from audits.tests.fixtures import make_application
from audits.tests.test_evidence import visible
from audits.tests.test_usage_checks import attach, template
from reports.exports import build_workbook
from reports.usage_spend import usage_spend
from testing.fixtures import BaseTestCase
from yingdu.tests.wording import problems_in

FIXTURES = Path(__file__).resolve().parents[2] / "applications" / "tests" / "fixtures" / "usage"


@time_machine.travel(dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC), tick=False)
class UsageSpendTests(BaseTestCase):
    def test_spend_is_shown_by_kind_vendor_and_unit_on_the_dashboard_and_in_the_xlsx(self) -> None:
        app = make_application(self.enterprise, self.alice, "S1", cost="1000.00", work_minutes=10)
        attach(app, "aliyun.csv", (FIXTURES / "aliyun_grouped.csv").read_bytes())
        attach(app, "明细.csv", template("模型服务,火山方舟,doubao-seedance,,2450000,token,,,44.10,44.10,"))
        rows = {(r["kind"], r["vendor"], r["unit"]): (r["quantity"], r["cash"]) for r in usage_spend(2026)}
        assert rows[("模型服务", "火山方舟", "token")] == ("2450000.00", "44.10")
        assert rows[("模型服务", "阿里云", "生成视频秒")] == ("300.00", "200.00")
        self.login(self.finance)
        page = self.client.get("/reports/?year=2026").content.decode()
        assert 'id="spend"' in page and "火山方舟" in page and "2,450,000" in page
        assert problems_in(visible(page), "dashboard") == []
        content, counts = build_workbook(2026)
        assert counts["用量与支出"] == 3
        sheet = list(load_workbook(io.BytesIO(content))["用量与支出"].iter_rows(values_only=True))
        assert sheet[0] == ("用量类型", "厂商", "单位", "用量", "现金支出（元）")
        by_key = {(r[0], r[1], r[2]): (Decimal(str(r[3])), Decimal(str(r[4]))) for r in sheet[1:]}
        assert by_key[("模型服务", "阿里云", "生成视频秒")] == (Decimal(300), Decimal(200))
