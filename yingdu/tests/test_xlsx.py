from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

from django.test import SimpleTestCase
from openpyxl import Workbook, load_workbook

from core.xlsx import safe_cell, write_sheet

INJECTION = '=HYPERLINK("http://x","y")'


class SafeCellTests(SimpleTestCase):
    def test_it_prefixes_every_formula_trigger(self) -> None:
        for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", INJECTION):
            self.assertEqual(safe_cell(text), "'" + text)

    def test_it_keeps_plain_text_and_numbers(self) -> None:
        self.assertEqual(safe_cell("北京影都"), "北京影都")
        self.assertEqual(safe_cell(Decimal("-12.50")), Decimal("-12.50"))
        self.assertEqual(safe_cell(-3), -3)
        self.assertIsNone(safe_cell(None))
        self.assertEqual(safe_cell(dt.date(2026, 3, 1)), dt.date(2026, 3, 1))

    def test_it_drops_the_timezone_after_converting_to_local_time(self) -> None:
        value = dt.datetime(2026, 3, 1, 0, 0, tzinfo=dt.UTC)
        self.assertEqual(safe_cell(value), dt.datetime(2026, 3, 1, 8, 0))


class WriteSheetTests(SimpleTestCase):
    def test_an_injected_company_name_reads_back_as_inert_text(self) -> None:
        wb = Workbook()
        ws = wb.active
        assert ws is not None
        written = write_sheet(ws, ["企业名称", "金额"], [[INJECTION, Decimal("12.50")], ["正常公司", 3]])
        self.assertEqual(written, 2)
        out = io.BytesIO()
        wb.save(out)
        back = load_workbook(io.BytesIO(out.getvalue()))
        sheet = back.active
        assert sheet is not None
        self.assertEqual(sheet["A1"].value, "企业名称")
        self.assertEqual(sheet["A2"].value, "'" + INJECTION)
        self.assertEqual(sheet["A2"].data_type, "s")
        self.assertEqual(sheet["B2"].value, 12.5)
        self.assertEqual(sheet["A3"].value, "正常公司")
