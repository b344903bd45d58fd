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
from reports.common import local_date
from reports.exports import build_workbook
from reports.tests.fixtures import NOW, TODAY, ReportFixture, at
from review.models import Payment
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
        assert day(row[8]) == local_date(app.submitted_at)
        assert day(row[12]) == local_date(app.approved_at)
        payment = getattr(app, "payment", None)
        assert day(row[13]) == (payment.date if payment is not None else local_date(app.paid_at))
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

    def test_it_writes_moments_just_after_midnight_on_their_beijing_day(self) -> None:
        # 00:00 in Beijing is 16:00 the day before in UTC: each sheet shows the Beijing day.
        app = self.apps["A1"]
        Application.objects.filter(pk=app.pk).update(
            submitted_at=at("2026-03-02", 0), approved_at=at("2026-03-10", 0), paid_at=at("2026-03-20", 0)
        )
        Payment.objects.filter(application=app).delete()
        with time_machine.travel(NOW, tick=False):
            streamed, _counts = build_workbook(2026, TODAY)
        assert_rows_read_as_the_models_say(streamed, 2026)
        wb = load_workbook(io.BytesIO(streamed))
        row = next(r for r in wb["申请汇总"].iter_rows(values_only=True) if r[0] == app.reference)
        self.assertEqual(
            [row[8], row[12], row[13]],
            [dt.datetime(2026, 3, 2), dt.datetime(2026, 3, 10), dt.datetime(2026, 3, 20)],
        )
        row = next(r for r in wb["时限达标"].iter_rows(values_only=True) if r[0] == app.reference)
        self.assertEqual(
            [row[3], row[7], row[9]],
            [dt.datetime(2026, 3, 2), dt.datetime(2026, 3, 10), dt.datetime(2026, 3, 20)],
        )


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
