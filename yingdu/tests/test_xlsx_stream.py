"""A streamed sheet's rows written as XML text hold the same cells as openpyxl writes for the same values."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from decimal import Decimal
from typing import Any

from django.test import SimpleTestCase
from lxml import etree
from openpyxl import Workbook, load_workbook
from openpyxl.utils.exceptions import IllegalCharacterError

from core import xlsx_stream
from core.xlsx import append_row, workbook_bytes, write_sheet

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


def workbook(
    streamed: bool,
    rows: list[list[Any]],
    *,
    more: list[list[Any]] | None = None,
    compresslevel: int | None = None,
) -> bytes:
    wb = Workbook(write_only=streamed)
    ws: Any = wb.create_sheet("明细") if streamed else wb.active
    if not streamed:
        ws.title = "明细"
    try:
        write_sheet(ws, HEADERS, iter(rows), widths=[12, 20])
        for row in more or []:
            append_row(ws, row)  # rows after the table (a total line), as the reports add them
    except (IllegalCharacterError, etree.XMLSyntaxError):
        if streamed:
            ws.close()  # the sheet's stream ended in order, not left to the garbage collector
        raise
    if compresslevel is not None:
        return workbook_bytes(wb, compresslevel=compresslevel)
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

    def test_it_writes_equal_values_of_other_kinds_as_their_own_cells(self) -> None:
        # The same number or day as an amount and not, as a date and a moment, as a flag and a
        # count, row after row: each cell keeps its own format and type.
        rows: list[list[Any]] = [
            ["A-1", "", Decimal("5"), Decimal("5.0"), 1, dt.date(2026, 1, 1), dt.datetime(2026, 1, 1), True],
            ["A-2", "", Decimal("5.00"), Decimal("5"), True, dt.datetime(2026, 1, 1), dt.date(2026, 1, 1), 1],
            [
                "A-3",
                "",
                Decimal("-0.00"),
                Decimal("0"),
                0.0,
                dt.date(2026, 1, 1),
                dt.datetime(2026, 1, 1),
                False,
            ],
        ]
        rows *= 2
        self.assertEqual(cells(workbook(True, rows)), cells(workbook(False, rows)))

    def test_it_keeps_the_order_of_many_rows_and_the_rows_after_them(self) -> None:
        rows: list[list[Any]] = [
            [
                f"A-{i}",
                f"企业{i % 7}",
                Decimal(i) / 100,
                None,
                i,
                dt.date(2026, 1, 1 + i % 28),
                None,
                i % 2 == 0,
                "备注",
            ]
            for i in range(2500)
        ]
        more = [[], ["合计", None, sum((r[2] for r in rows), Decimal("0.00"))]]
        streamed = cells(workbook(True, rows, more=more))
        self.assertEqual(streamed, cells(workbook(False, rows, more=more)))
        self.assertEqual([r[0][1] for r in streamed["明细"]["cells"][1:3]], ["A-0", "A-1"])
        self.assertEqual(streamed["明细"]["cells"][-1][0][:2], ("A2503", "合计"))

    def test_it_writes_text_rows_after_rows_openpyxl_wrote(self) -> None:
        wb = Workbook(write_only=True)
        ws: Any = wb.create_sheet("明细")
        stream = xlsx_stream.RowStream(ws, lambda value: None)
        stream.append(["第一行", 1])
        ws.append(["第二行", 2])
        stream.append(["第三行", 3])
        stream.append(["第四行 & <更多>", "a\rb"])
        out = io.BytesIO()
        wb.save(out)
        back = load_workbook(io.BytesIO(out.getvalue()))["明细"]
        self.assertEqual(
            [[(c.coordinate, c.value) for c in row] for row in back.iter_rows()],
            [
                [("A1", "第一行"), ("B1", 1)],
                [("A2", "第二行"), ("B2", 2)],
                [("A3", "第三行"), ("B3", 3)],
                [("A4", "第四行 & <更多>"), ("B4", "a\rb")],
            ],
        )

    def test_it_refuses_text_xml_cannot_hold_as_before(self) -> None:
        # U+FFFF is no XML character: the row goes the careful way and lxml refuses it.
        with self.assertRaises(etree.XMLSyntaxError):
            workbook(True, [["A-1", "a\uffffb"]])

    def test_it_saves_the_same_workbook_at_the_fastest_compression(self) -> None:
        rows = ROWS * 50
        fast = workbook(True, rows, compresslevel=1)
        self.assertEqual(cells(fast), cells(workbook(True, rows)))
        self.assertEqual(cells(workbook(False, rows, compresslevel=1)), cells(workbook(False, rows)))
        with zipfile.ZipFile(io.BytesIO(fast)) as archive:
            self.assertEqual({i.compress_type for i in archive.infolist()}, {zipfile.ZIP_DEFLATED})
