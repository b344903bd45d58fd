"""The consumption detail's CSV checked column by column says exactly what the row-by-row check says:
the same errors (rows, columns, wording, order), the same rows with the same values of the same types."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from decimal import Decimal
from typing import Any

from django.test import SimpleTestCase
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from applications import consumption, consumption_columns, consumption_file
from applications.consumption import ALIASES, COLUMNS, CSV_MIME, HEADERS, ParseResult
from applications.consumption_file import parse_consumption
from applications.tests.factories import NOW
from core.filetypes import TABLE_MAX_ROWS
from core.lib.money import round_half_up

START = dt.datetime(2026, 3, 1, 8, 0)  # noqa: DTZ001 - cells without zone are Beijing time
TIME_FORMATS = (
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y.%m.%d %H:%M",
    "%Y-%m-%dT%H:%M+08:00",
)
PRICES = ("12.50", "5000", "0", "7.1234", "1E+1", "0.5000", "-0", " 3 ", "¥5,000.0000")
# Every kind of bad cell, by column; a cell may also be taken from another row or left out.
BAD: dict[str, tuple[str, ...]] = {
    "record_id": ("", "   ", "X" * 65, "OLD-1"),
    "started_at": ("", "not a time", "2027-01-01 08:00", "2026-13-01 08:00", "2026-03-20 10:00:01"),
    "ended_at": ("", "soon", "2026-02-01 08:00", "2027-01-01 08:00"),
    "resource": ("", " ", "G" * 65),
    "quantity": ("0", "-1", "8.5", "abc", "", "NaN", "1e3"),
    "minutes": ("0", "9999", "1.5", "x", "", "-3"),
    "unit_price": ("-1", "1.00001", "NaN", "Infinity", "abc", "", "1e30", "-0.01"),
    "amount": ("0", "-5", "1.001", "99999999", "", "sNaN", "1e999999", "0.001"),
    "scenario": ("跳舞", "", "renders", "text2video2"),
}
SCENARIOS = ("text2video", "render", "文生视频", "Text2Video", " voice ", "其它", "微调")


@st.composite
def details(draw: st.DrawFn) -> tuple[bytes, frozenset[str]]:
    """A CSV detail of good rows, rows with bad cells, blank, short and long rows, under a header
    in any column order, Chinese or English, with or without a column of its own."""
    english = draw(st.booleans())
    order = draw(st.permutations(COLUMNS))
    header = [ALIASES[c][0] if english else str(HEADERS[c]) for c in order]
    extra = draw(st.sampled_from((None, 0, len(header))))
    if extra is not None:
        header.insert(extra, "备注")
    lines: list[list[str]] = [header]
    for index in range(draw(st.integers(0, 30))):
        kind = draw(st.sampled_from(("good", "good", "good", "bad", "bad", "blank", "short", "long")))
        if kind == "blank":
            lines.append(draw(st.sampled_from(([], [""] * len(header), [" ", "", "\t"]))))
            continue
        started = START + dt.timedelta(hours=index, minutes=draw(st.integers(0, 59)))
        span = draw(st.integers(1, 180))
        ended = started + dt.timedelta(minutes=span, seconds=draw(st.sampled_from((0, 0, 30))))
        bad = (
            set(draw(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=3))) if kind == "bad" else set()
        )
        quantity = draw(st.integers(1, 16))
        minutes = draw(st.integers(1, span))
        price = draw(st.sampled_from(BAD["unit_price"] if "unit_price" in bad else PRICES))
        try:
            number = Decimal(price.strip().lstrip("¥").replace(",", ""))
            amount = round_half_up(Decimal(quantity) * Decimal(minutes) * number / Decimal(60))
        except ArithmeticError:  # no number, or one beyond the decimal context
            amount = Decimal(1)
        if not amount.is_finite():
            amount = Decimal(1)
        # The amount follows the price (a bad price is then the row's only problem) or is off by a
        # cent, which is still good.
        exact = amount
        amount = max(amount + Decimal(draw(st.sampled_from(("0", "0", "0.01", "-0.01")))), Decimal("0.01"))
        record_id = draw(st.sampled_from((f"JOB-{index}", f" JOB-{index} ", "JOB-1", "OLD-2")))
        cells = {
            "record_id": record_id,
            "started_at": started.strftime(draw(st.sampled_from(TIME_FORMATS))),
            "ended_at": ended.strftime(draw(st.sampled_from(TIME_FORMATS))),
            "resource": draw(st.sampled_from(("H200", " A800 ", "H20"))),
            "quantity": draw(
                st.sampled_from((str(quantity), f" {quantity} ", f"+{quantity}", f"{quantity}.0"))
            ),
            "minutes": str(minutes),
            "unit_price": price,
            "amount": draw(st.sampled_from((str(amount), f"￥{amount:,}", f"{amount}0"))),
            "scenario": draw(st.sampled_from(SCENARIOS)),
        }
        for column in bad - {"unit_price"}:
            cells[column] = draw(st.sampled_from(BAD[column]))
        if "amount" in bad:  # off by more than a cent, a third decimal within a cent, or a bad cell
            wrong = (
                str(exact + Decimal("0.02")),
                str(exact - Decimal("0.5")),
                f"{exact:f}1",
                cells["amount"],
            )
            cells["amount"] = draw(st.sampled_from(wrong))
        row = [cells[c] for c in order]
        if extra is not None:
            row.insert(extra, "备注")
        if kind == "short":
            row = row[: draw(st.integers(1, len(row) - 1))]
        elif kind == "long":
            row += ["", "多余"]
        lines.append(row)
    out = io.StringIO()
    csv.writer(out).writerows(lines)
    existing = draw(st.sets(st.sampled_from(("OLD-1", "OLD-2", "JOB-3")), max_size=2))
    return out.getvalue().encode(), frozenset(existing)


def described(result: ParseResult) -> tuple[Any, ...]:
    """A result down to each value's type and exact form (``Decimal("12.5")`` is not ``12.50``)."""
    rows = [
        tuple((type(value), repr(value)) for value in dataclasses.astuple(row)) + (repr(row.__dict__),)
        for row in result.rows
    ]
    return result.errors, result.truncated, rows


def row_by_row(content: bytes, existing: frozenset[str], keep_good_rows: bool) -> ParseResult:
    return consumption_file._parse(content, CSV_MIME, NOW, existing, keep_good_rows, by_columns=False)


class ColumnCheckTests(SimpleTestCase):
    @given(details(), st.booleans(), st.sampled_from((consumption.ROWS_AT_ONCE, 1, 2, 5)))
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    def test_it_checks_by_columns_exactly_as_row_by_row(
        self, detail: tuple[bytes, frozenset[str]], keep_good_rows: bool, rows_at_once: int
    ) -> None:
        content, existing = detail
        if rows_at_once == consumption.ROWS_AT_ONCE:
            result = parse_consumption(
                content, CSV_MIME, now=NOW, existing_record_ids=existing, keep_good_rows=keep_good_rows
            )
        else:  # blocks of a few rows: record ids repeated and errors cut off across blocks
            result = consumption_file._parse(
                content, CSV_MIME, NOW, existing, keep_good_rows, rows_at_once=rows_at_once
            )
        self.assertEqual(described(result), described(row_by_row(content, existing, keep_good_rows)))

    @given(details())
    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    def test_the_columns_flag_exactly_the_rows_the_row_check_finds_faulty(
        self, detail: tuple[bytes, frozenset[str]]
    ) -> None:
        content, existing = detail
        table = list(csv.reader(io.StringIO(content.decode(), newline="")))
        mapping, missing = consumption.map_header(table[0])
        assert not missing
        now = NOW.astimezone(consumption.BEIJING)
        columns = consumption_columns.check_columns(table[1:], 2, mapping, {}, existing, now)
        expected = row_by_row(content, existing, keep_good_rows=True)
        event("rows checked one by one" if columns is None else "rows checked by columns")
        if columns is None:  # a number beyond the decimal context: the rows are checked one by one
            return
        faulty = {columns.numbers[position] for position in columns.faulty}
        named = {error.row for error in expected.errors if error.column}
        if expected.truncated or any(error.row == 0 for error in expected.errors):
            # The row check stopped at its last error's row: 200 errors, or a number beyond the
            # decimal context in a row's terms, which the columns need not work out for a faulty row.
            faulty = {row for row in faulty if row <= max(named, default=0)}
        self.assertEqual(faulty, named)

    def test_a_file_beyond_the_error_limit_is_cut_off_at_the_same_error(self) -> None:
        lines = [
            "记录编号,开始时间,结束时间,算力资源,数量（卡）,时长（分钟）,单价（元/卡·小时）,金额（元）,使用场景"
        ]
        for index in range(400):
            if index % 3:
                lines.append(f"J{index},2026-03-01 08:00,2026-03-01 08:30,H200,8,30,5000,20000.00,render")
            else:
                lines.append(f"J{index},2026-03-01 08:00,2026-03-01 07:30,,0,30,5000,1.00,跳舞")
        content = ("\n".join(lines) + "\n").encode()
        for keep_good_rows, rows_at_once in ((False, consumption.ROWS_AT_ONCE), (True, 7)):
            result = consumption_file._parse(
                content, CSV_MIME, NOW, frozenset(), keep_good_rows, rows_at_once=rows_at_once
            )
            assert result.truncated
            self.assertEqual(described(result), described(row_by_row(content, frozenset(), keep_good_rows)))

    def test_a_line_the_reader_stops_in_is_reported_after_the_rows_before_it(self) -> None:
        content = (
            "记录编号,开始时间,结束时间,算力资源,数量（卡）,时长（分钟）,单价（元/卡·小时）,金额（元）,使用场景\n"
            "J1,2026-03-01 08:00,2026-03-01 08:30,H200,0,30,5000,20000.00,render\n"
            "J2,2026-03-01 08:00,2026-03-01 08:30,H200,8,30,5000,20000.00,render\n"
            f"J3,{'x' * (csv.field_size_limit() + 1)},2026-03-01 08:30,H200,8,30,5000,20000.00,render\n"
        ).encode()
        result = parse_consumption(content, CSV_MIME, now=NOW, keep_good_rows=True)
        self.assertEqual([(e.row, e.column) for e in result.errors], [(2, "quantity"), (0, "")])
        self.assertEqual([r.record_id for r in result.rows], ["J2"])
        self.assertEqual(described(result), described(row_by_row(content, frozenset(), True)))

    def test_files_beyond_the_row_bounds_are_refused_at_the_same_row(self) -> None:
        header = "记录编号,开始时间,结束时间,算力资源,数量（卡）,时长（分钟）,单价（元/卡·小时）,金额（元）,使用场景\n"
        good = "J{},2026-03-01 08:00,2026-03-01 08:30,H200,8,30,5000,20000.00,render\n"
        too_many = header + "".join(good.format(index) for index in range(consumption.MAX_ROWS + 1))
        too_long = header + good.format(1) + "\n" * TABLE_MAX_ROWS + good.format(2)
        for text, message in ((too_many, "明细超过"), (too_long, "明细文件超过")):
            content = text.encode()
            result = parse_consumption(content, CSV_MIME, now=NOW, keep_good_rows=True)
            assert message in result.errors[-1].message, result.errors[-1]
            self.assertEqual(described(result), described(row_by_row(content, frozenset(), True)))
