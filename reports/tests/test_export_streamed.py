"""The streamed workbook (write-only, rows from a cursor) has the same cells as the one built in memory."""

from __future__ import annotations

import io
from typing import Any

import time_machine
from openpyxl import load_workbook

from reports.exports import build_workbook
from reports.tests.fixtures import NOW, TODAY, ReportFixture


def cells(content: bytes) -> dict[str, Any]:
    wb = load_workbook(io.BytesIO(content))
    out: dict[str, Any] = {}
    for ws in wb.worksheets:
        out[ws.title] = {
            "cells": [
                [(c.value, c.data_type, c.number_format, bool(c.font and c.font.b)) for c in row]
                for row in ws.iter_rows()
            ],
            "widths": {k: d.width for k, d in ws.column_dimensions.items() if d.width},
            "freeze": ws.freeze_panes,
        }
    return out


class StreamedWorkbookTests(ReportFixture):
    def test_it_writes_the_same_cells_as_the_workbook_built_in_memory(self) -> None:
        with time_machine.travel(NOW, tick=False):
            streamed, counts = build_workbook(2026, TODAY)
            in_memory, counts_before = build_workbook(2026, TODAY, streamed=False)
        self.assertEqual(counts, counts_before)
        self.assertGreater(counts["申请汇总"], 3)
        new, old = cells(streamed), cells(in_memory)
        self.assertEqual(list(new), list(old))
        for title in old:
            self.assertEqual(new[title], old[title], title)
