"""The consumption-detail parser and template (docs/form.md): rows, row-numbered errors, totals."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

from django.test import SimpleTestCase

from applications.consumption import CSV_MIME, XLSX_MIME
from applications.consumption_file import parse_consumption
from applications.consumption_template import template_csv, template_xlsx
from applications.tests.factories import NOW, consumption_csv, consumption_xlsx
from core.uploads import sniff


class ConsumptionParserTests(SimpleTestCase):
    def test_it_parses_a_good_csv_and_sums_minutes_and_amount(self) -> None:
        result = parse_consumption(consumption_csv(), CSV_MIME, now=NOW)
        assert result.ok, result.errors
        assert [r.row_number for r in result.rows] == [2, 3]
        assert result.total_minutes == 60
        assert result.total_amount == Decimal("50000.00")
        first = result.rows[0]
        assert first.record_id == "JOB-1"
        assert first.scenario == "text2video"
        assert first.started_at == dt.datetime(2026, 3, 1, 0, 0, tzinfo=dt.UTC)  # 08:00 Beijing time

    def test_it_reports_a_bad_row_by_its_row_number_in_the_file(self) -> None:
        rows = [
            (
                "JOB-1",
                "2026-03-01 08:00",
                "2026-03-01 08:30",
                "H200",
                8,
                30,
                "5000",
                "20000.00",
                "text2video",
            ),
            ("JOB-2", "2026-03-01 09:00", "2026-03-01 08:30", "H200", 0, 30, "7500", "30000.00", "跳舞"),
            ("JOB-3", "2026-03-01 10:00", "2026-03-01 10:30", "H200", 8, 30, "7500", "30000.00", "render"),
        ]
        result = parse_consumption(consumption_csv(rows), CSV_MIME, now=NOW)
        assert not result.ok
        assert {e.row for e in result.errors} == {3}
        columns = {e.column for e in result.errors}
        assert {"ended_at", "quantity", "scenario"} <= columns
        assert "第 3 行" in result.summary()
        assert result.rows == []  # nothing of a file with errors is kept

    def test_row_numbers_count_blank_lines_as_in_a_spreadsheet(self) -> None:
        content = consumption_csv()
        content += b"\n\nJOB-9,not a time,2026-03-01 09:30,H200,8,30,7500,30000.00,render\n"
        result = parse_consumption(content, CSV_MIME, now=NOW)
        assert [(e.row, e.column) for e in result.errors] == [(6, "started_at")]
        assert "not a time" in result.errors[0].message

    def test_it_checks_the_amount_against_quantity_minutes_and_unit_price(self) -> None:
        rows = [
            ("JOB-1", "2026-03-01 08:00", "2026-03-01 08:30", "H200", 8, 30, "5000", "21000.00", "render")
        ]
        result = parse_consumption(consumption_csv(rows), CSV_MIME, now=NOW)
        assert [e.column for e in result.errors] == ["amount"]
        assert "20000.00" in result.errors[0].message

    def test_it_refuses_minutes_beyond_the_time_span_and_times_in_the_future(self) -> None:
        rows = [
            ("JOB-1", "2026-03-01 08:00", "2026-03-01 08:10", "H200", 1, 30, "60", "30.00", "render"),
            ("JOB-2", "2026-03-21 08:00", "2026-03-21 09:00", "H200", 1, 60, "60", "60.00", "render"),
        ]
        result = parse_consumption(consumption_csv(rows), CSV_MIME, now=NOW)
        assert (2, "minutes") in {(e.row, e.column) for e in result.errors}
        assert (3, "started_at") in {(e.row, e.column) for e in result.errors}

    def test_duplicate_record_ids_are_reported_with_the_first_row(self) -> None:
        rows = [
            ("JOB-1", "2026-03-01 08:00", "2026-03-01 08:30", "H200", 8, 30, "5000", "20000.00", "render"),
            ("JOB-1", "2026-03-01 09:00", "2026-03-01 09:30", "H200", 8, 30, "7500", "30000.00", "render"),
        ]
        result = parse_consumption(consumption_csv(rows), CSV_MIME, now=NOW)
        assert [(e.row, e.column) for e in result.errors] == [(3, "record_id")]
        assert "第 2 行" in result.errors[0].message
        again = parse_consumption(consumption_csv(), CSV_MIME, now=NOW, existing_record_ids={"JOB-2"})
        assert [(e.row, e.column) for e in again.errors] == [(3, "record_id")]

    def test_english_headers_in_any_order_are_accepted(self) -> None:
        content = (
            b"scenario,record_id,started_at,ended_at,resource,quantity,minutes,unit_price,amount\n"
            b"voice,R1,2026-03-01T08:00:00+08:00,2026-03-01T09:00:00+08:00,A800,2,60,10.5,21.00\n"
        )
        result = parse_consumption(content, CSV_MIME, now=NOW)
        assert result.ok, result.errors
        assert result.rows[0].scenario == "voice"
        assert result.total_amount == Decimal("21.00")

    def test_a_missing_column_is_reported_on_the_header_row(self) -> None:
        result = parse_consumption(b"record_id,amount\nR1,10.00\n", CSV_MIME, now=NOW)
        assert result.errors[0].row == 1
        assert "开始时间" in result.errors[0].message

    def test_an_empty_detail_is_an_error(self) -> None:
        result = parse_consumption(consumption_csv([]), CSV_MIME, now=NOW)
        assert not result.ok
        assert "没有数据行" in result.errors[0].message

    def test_xlsx_with_native_dates_and_numbers_is_parsed(self) -> None:
        rows = [
            (
                "X1",
                dt.datetime(2026, 3, 1, 8, 0),
                dt.datetime(2026, 3, 1, 9, 0),
                "H200",
                4,
                60,
                12.5,
                50.0,
                "微调",
            ),
            ("X2", "2026/3/1 10:00", "2026/3/1 10:30", "H200", 4, 30, 12.5, 25, "其他"),
        ]
        result = parse_consumption(consumption_xlsx(rows), XLSX_MIME, now=NOW)
        assert result.ok, result.errors
        assert result.total_minutes == 90
        assert result.total_amount == Decimal("75.00")
        assert [r.scenario for r in result.rows] == ["finetune", "other"]

    def test_xlsx_bad_row_is_reported_by_its_sheet_row(self) -> None:
        rows = [
            (
                "X1",
                dt.datetime(2026, 3, 1, 8, 0),
                dt.datetime(2026, 3, 1, 9, 0),
                "H200",
                4,
                60,
                12.5,
                50.0,
                "render",
            ),
            (
                "X2",
                dt.datetime(2026, 3, 1, 8, 0),
                dt.datetime(2026, 3, 1, 9, 0),
                "",
                4,
                60,
                12.5,
                50.0,
                "render",
            ),
        ]
        result = parse_consumption(consumption_xlsx(rows), XLSX_MIME, now=NOW)
        assert [(e.row, e.column) for e in result.errors] == [(3, "resource")]

    def test_a_damaged_workbook_is_reported_not_raised(self) -> None:
        result = parse_consumption(b"PK\x03\x04broken", XLSX_MIME, now=NOW)
        assert not result.ok
        assert result.errors[0].row == 0


class TemplateTests(SimpleTestCase):
    def test_the_csv_template_is_utf8_with_the_chinese_header_and_parses_as_a_header(self) -> None:
        content = template_csv()
        assert content.startswith("\ufeff".encode())
        assert "记录编号" in content.decode("utf-8-sig")
        assert sniff(content) == CSV_MIME
        result = parse_consumption(content, CSV_MIME, now=NOW)
        assert [e.message for e in result.errors] == ["明细中没有数据行"]  # header recognised, no rows yet

    def test_the_xlsx_template_is_a_workbook_whose_filled_copy_parses(self) -> None:
        from io import BytesIO

        from openpyxl import load_workbook

        content = template_xlsx()
        assert sniff(content) == XLSX_MIME
        workbook = load_workbook(BytesIO(content))
        sheet = workbook.worksheets[0]
        sheet.append(
            ["R1", "2026-03-01 08:00", "2026-03-01 10:00", "H200", 8, 120, "12.50", "200.00", "text2video"]
        )
        out = BytesIO()
        workbook.save(out)
        result = parse_consumption(out.getvalue(), XLSX_MIME, now=NOW)
        assert result.ok, result.errors
        assert len(workbook.worksheets) == 2  # the rules are on a second sheet
        notes = " ".join(
            str(c) for row in workbook.worksheets[1].iter_rows(values_only=True) for c in row if c
        )
        assert "text2video" not in notes and "record_id" not in notes, notes


class ConsumptionCellFormsTests(SimpleTestCase):
    """Every way the parser reads a cell gives the same row: plain text, text with separators,
    currency signs, trailing zeros or spaces, another date form, and a workbook's native cells."""

    ROW = ("JOB-1", "2026-03-01 08:00", "2026-03-01 08:30", "H200", 8, 30, "5000", "20000.00", "text2video")

    def parsed(self, content: bytes, mime: str = CSV_MIME) -> list[tuple[object, ...]]:
        result = parse_consumption(content, mime, now=NOW)
        assert result.ok, result.errors
        return [
            (r.record_id, r.started_at, r.ended_at, r.resource, r.quantity, r.minutes, r.unit_price, r.amount)
            for r in result.rows
        ]

    @staticmethod
    def quoted_csv(row: tuple[object, ...]) -> bytes:
        header = consumption_csv([]).decode().splitlines()[0]
        out = io.StringIO()
        csv.writer(out).writerow(row)
        return (header + "\n" + out.getvalue()).encode()

    def test_it_reads_every_accepted_form_of_a_cell_alike(self) -> None:
        plain = self.parsed(consumption_csv([self.ROW]))
        forms = [
            ("JOB-1", "2026/03/01 08:00:00", "2026.03.01 08:30", "H200", " 8 ", "30.0", "¥5,000.0000", "20,000", "文生视频"),
            (" JOB-1 ", "2026-03-01T08:00:00+08:00", "2026-03-01 00:30:00+00:00", " H200", "+8", "30", "5000.00", "￥20000", "Text2Video"),
        ]  # fmt: skip
        for form in forms:
            with self.subTest(form=form):
                self.assertEqual(self.parsed(self.quoted_csv(form)), plain)
        native = (
            "JOB-1", dt.datetime(2026, 3, 1, 8, 0), dt.datetime(2026, 3, 1, 8, 30), "H200", 8.0, 30, 5000, 20000.0,
            "text2video",
        )  # fmt: skip
        self.assertEqual(self.parsed(consumption_xlsx([native]), XLSX_MIME), plain)

    def test_it_refuses_numbers_that_are_not_finite_or_too_precise(self) -> None:
        for column, value in ((6, "NaN"), (6, "Infinity"), (6, "1.00001"), (7, "20000.001"), (4, "8.5")):
            row = list(self.ROW)
            row[column] = value
            with self.subTest(value=value):
                result = parse_consumption(consumption_csv([tuple(row)]), CSV_MIME, now=NOW)
                self.assertFalse(result.ok)
                self.assertEqual(result.errors[0].row, 2)
