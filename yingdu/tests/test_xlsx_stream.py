"""A streamed sheet's rows written as XML text hold the same cells as openpyxl writes for the same values."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

from django.test import SimpleTestCase
from openpyxl import Workbook, load_workbook
from openpyxl.utils.exceptions import IllegalCharacterError

from core.xlsx import append_row, write_sheet

HEADERS = ["编号", "名称", "金额（元）", "比率", "数量", "日期", "时间", "是否", "备注"]
ROWS: list[list[Any]] = [
    ["A-1", "北京影都", Decimal("9750.00"), Decimal("0.125"), 3, dt.date(2026, 3, 1),
     dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.UTC), True, "  前后有空格 "],
    ["", None, Decimal("-1.50"), 0.1, 0, None, dt.datetime(2026, 12, 31, 23, 59, 59), False, "=SUM(A1:A3)"],
    ["#N/A", "a\rb\nc\td", Decimal("NaN"), float("nan"), -7, dt.date(1900, 3, 1), None, None, "<&>\"'"],
    ["+86 10", "@me", Decimal("1E+3"), 1e300, 2**53, dt.date(2026, 1, 1), dt.datetime(2026, 1, 1), 1, "x" * 40000],
    ["-", "   ", Decimal("0.00"), -0.0, 10**20, dt.date(2030, 12, 31), dt.datetime(2026, 6, 1, 12), 0, "#DIV/0!"],
]  # fmt: skip


def cells(content: bytes) -> dict[str, Any]:
    wb = load_workbook(io.BytesIO(content))
    out: dict[str, Any] = {}
    for ws in wb.worksheets:
        out[ws.title] = {
            "cells": [
                [
                    (c.coordinate, c.value, c.data_type, c.number_format, bool(c.font and c.font.b))
                    for c in row
                ]
                for row in ws.iter_rows()
            ],
            "widths": {k: d.width for k, d in ws.column_dimensions.items() if d.width},
            "freeze": ws.freeze_panes,
        }
    return out


def workbook(streamed: bool, rows: list[list[Any]], *, more: list[list[Any]] | None = None) -> bytes:
    wb = Workbook(write_only=streamed)
    ws: Any = wb.create_sheet("明细") if streamed else wb.active
    if not streamed:
        ws.title = "明细"
    try:
        write_sheet(ws, HEADERS, iter(rows), widths=[12, 20])
        for row in more or []:
            append_row(ws, row)  # rows after the table (a total line), as the reports add them
    except IllegalCharacterError:
        if streamed:
            ws.close()  # the sheet's stream ended in order, not left to the garbage collector
        raise
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


class StreamedRowsTests(SimpleTestCase):
    def test_it_writes_the_cells_openpyxl_writes_for_every_kind_of_value(self) -> None:
        more = [[], ["合计", None, Decimal("9748.50")]]
        streamed, built = cells(workbook(True, ROWS, more=more)), cells(workbook(False, ROWS, more=more))
        self.assertEqual(streamed, built)
        self.assertEqual(streamed["明细"]["cells"][3][1][1], "a\rb\nc\td")
        self.assertEqual(len(streamed["明细"]["cells"]), 1 + len(ROWS) + 2)

    def test_it_refuses_a_control_character_as_openpyxl_does(self) -> None:
        for streamed in (True, False):
            with self.subTest(streamed=streamed), self.assertRaises(IllegalCharacterError):
                workbook(streamed, [["A-1", "bad\x01text"]])
