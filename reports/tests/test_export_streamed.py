"""The streamed workbook (write-only, rows from a cursor) has the same cells as the one built in memory,
and its applications sheet says of each application what the application's model says."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from openpyxl import load_workbook

from applications.models import Application
from core.xlsx import safe_cell
from policy.queries import year_bounds
from reports.exports import build_workbook
from reports.tests.fixtures import NOW, TODAY, ReportFixture
from testing.demo_year import DEMO_NOW, PlayedDemo


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


def amount(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def day(value: Any) -> dt.date | None:
    return value.date() if isinstance(value, dt.datetime) else value


def assert_rows_read_as_the_models_say(content: bytes, year: int) -> int:
    """Each row of the applications sheet against its application's model object (the money
    record's outstanding amount, the provider, the payment); returns the rows with money outstanding."""
    start, end = year_bounds(year)
    apps = (
        Application.objects.filter(submitted_at__gte=start, submitted_at__lt=end)
        .select_related("enterprise", "provider", "payment")
        .order_by("submitted_at", "id")
    )
    sheet = list(load_workbook(io.BytesIO(content))["申请汇总"].iter_rows(min_row=2, values_only=True))
    outstanding = 0
    for row, app in zip(sheet, apps, strict=True):
        assert row[0] == app.reference
        assert row[1] == safe_cell(app.enterprise_name or app.enterprise.name)
        assert row[6] == (safe_cell(app.provider.name if app.provider else app.provider_name) or None)
        payment = getattr(app, "payment", None)
        if payment is not None:
            assert day(row[13]) == payment.date
        assert amount(row[14]) == (app.paid_amount or None)
        assert [amount(v) for v in row[15:19]] == [
            app.clawed_back_amount,
            app.repaid_amount,
            app.written_off_amount,
            app.outstanding_amount,
        ]
        outstanding += bool(app.outstanding_amount)
    return outstanding


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

    def test_it_writes_each_application_as_its_model_says(self) -> None:
        with time_machine.travel(NOW, tick=False):
            streamed, _counts = build_workbook(2026, TODAY)
        self.assertGreater(assert_rows_read_as_the_models_say(streamed, 2026), 0)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_writes_the_demo_year_as_the_workbook_built_in_memory(demo_year: PlayedDemo) -> None:
    today = DEMO_NOW.date()
    streamed, counts = build_workbook(2026, today)
    in_memory, counts_before = build_workbook(2026, today, streamed=False)
    assert counts == counts_before
    assert counts["申请汇总"] > 10
    new, old = cells(streamed), cells(in_memory)
    assert list(new) == list(old)
    for title in old:
        assert new[title] == old[title], title
    assert_rows_read_as_the_models_say(streamed, 2026)
