"""Reading a consumption detail file (CSV or XLSX) into rows and row-level errors: the CSV by
columns in blocks (``applications.consumption_columns``), a workbook row by row."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, cast

from django.utils.translation import gettext as _

from applications.consumption import (
    BEIJING,
    HEADERS,
    MAX_ROWS,
    ROWS_AT_ONCE,
    XLSX_MIME,
    Collector,
    ParseResult,
    blank_row,
    check_row,
    map_header,
    picker,
)
from applications.consumption_columns import (
    Columns,
    check_columns,
)
from core.filetypes import TABLE_MAX_COLUMNS, TABLE_MAX_ROWS
from core.lib.collector import collector_paused


def _csv_rows(content: bytes) -> Iterator[Sequence[Any]]:
    return csv.reader(io.StringIO(content.decode("utf-8-sig"), newline=""))


def _xlsx_rows(content: bytes) -> Iterator[Sequence[Any]]:
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        # Explicit bounds: openpyxl otherwise fills every gap up to the last cell, so one cell
        # at row 100,000,000 would mean a hundred million empty rows. One row past the bound
        # is read so that the parser can say the file is too long.
        yield from sheet.iter_rows(max_row=TABLE_MAX_ROWS + 1, max_col=TABLE_MAX_COLUMNS, values_only=True)
    finally:
        workbook.close()


def parse_consumption(
    content: bytes,
    mime: str,
    *,
    now: dt.datetime,
    existing_record_ids: Iterable[str] = (),
    keep_good_rows: bool = False,
) -> ParseResult:
    """Parse a CSV or XLSX consumption detail; every row's problems are reported, by row number.

    ``existing_record_ids`` are the record ids of the application's other detail files, so a
    record is not claimed twice by one application. With ``keep_good_rows`` the good rows stay
    beside the errors (the evidence check reads a file that way); otherwise a file with errors
    has no rows.
    """
    if mime == XLSX_MIME:
        return _parse(content, mime, now, existing_record_ids, keep_good_rows)
    with collector_paused():
        return _parse(content, mime, now, existing_record_ids, keep_good_rows)


def _parse(
    content: bytes,
    mime: str,
    now: dt.datetime,
    existing_record_ids: Iterable[str],
    keep_good_rows: bool,
    *,
    by_columns: bool = True,
    rows_at_once: int = ROWS_AT_ONCE,
) -> ParseResult:
    """``parse_consumption``; ``by_columns=False`` checks a CSV row by row as a workbook is (the
    tests compare the two ways)."""
    result = ParseResult()
    errors = Collector(result)
    try:
        iterator = iter(_xlsx_rows(content) if mime == XLSX_MIME else _csv_rows(content))
        header = next(iterator, None)
        if header is None or blank_row(header):
            errors.add(1, "", _("第 1 行应为表头（记录编号、开始时间、结束时间……），文件中没有表头"))
            return result
        mapping, missing = map_header(header)
        if missing:
            errors.add(
                1,
                "",
                _("表头缺少以下列：%(columns)s（请使用平台提供的模板）")
                % {"columns": "、".join(str(HEADERS[c]) for c in missing)},
            )
            return result
        seen: dict[str, int] = {}
        pick = picker(mapping)
        existing = frozenset(existing_record_ids)
        # The same instant in the zone the cells are read in: a time of that zone is then
        # compared with it field by field, not through the zone's offset rules each time.
        now = now.astimezone(BEIJING)
        if by_columns and mime != XLSX_MIME:
            if _check_blocks(iterator, rows_at_once, mapping, pick, seen, existing, now, errors):
                return _finish(result, errors, keep_good_rows)
            # A line the reader stops in, more rows than allowed or a number beyond the decimal
            # context: the file is checked again from its start, row by row, which says so in order.
            result.rows, result.truncated = [], False
            result.errors.clear()
            seen.clear()
            iterator = iter(_csv_rows(content))
            next(iterator)
        data_rows = 0
        for number, cells in enumerate(iterator, start=2):
            if number > TABLE_MAX_ROWS:
                errors.add(
                    number,
                    "",
                    _("明细文件超过 %(max)s 行的限制（含表头与空行），请拆分为多个文件上传")
                    % {"max": f"{TABLE_MAX_ROWS:,}"},
                )
                break
            if blank_row(cells):
                continue
            data_rows += 1
            if data_rows > MAX_ROWS:
                errors.add(number, "", _("明细超过 %(max)d 行，请拆分为多个文件上传") % {"max": MAX_ROWS})
                break
            parsed = check_row(number, cells, pick, seen, existing, now, errors)
            if parsed is not None:
                result.rows.append(parsed)
            if result.truncated:
                break
    except (UnicodeDecodeError, csv.Error) as exc:
        errors.add(
            0, "", _("无法读取明细文件：请使用 UTF-8 编码的 CSV 或 XLSX（%(error)s）") % {"error": exc}
        )
    except Exception as exc:  # openpyxl raises many kinds of errors for a damaged workbook
        errors.add(
            0, "", _("无法读取 XLSX 文件，文件可能已损坏（%(error)s）") % {"error": type(exc).__name__}
        )
    return _finish(result, errors, keep_good_rows)


def _check_blocks(
    rows: Iterator[Sequence[Any]],
    size: int,
    mapping: dict[str, int],
    pick: Callable[[Sequence[Any]], Sequence[Any]],
    seen: dict[str, int],
    existing: frozenset[str],
    now: dt.datetime,
    errors: Collector,
) -> bool:
    """A CSV's rows after the header checked by columns in blocks of ``size`` rows, in order (a
    block's data stays in the processor's caches); ``False`` where they are to be checked one by
    one from the start instead, the result then partly filled."""
    result = errors.result
    first = 2
    data_rows = 0
    while not result.truncated:
        try:
            block = cast("list[list[str]]", list(islice(rows, size)))
        except csv.Error:
            return False
        if not block:
            break
        if first + len(block) - 1 > TABLE_MAX_ROWS:
            return False
        columns = check_columns(block, first, mapping, seen, existing, now)
        if columns is None:
            return False
        data_rows += len(columns.numbers)
        if data_rows > MAX_ROWS:
            return False
        if columns.faulty:
            _name_problems(columns, pick, seen, existing, now, errors)
        else:
            result.rows += columns.parsed
            seen.update(zip(columns.record_ids, columns.numbers, strict=True))
        first += len(block)
    return True


def _name_problems(
    columns: Columns,
    pick: Callable[[Sequence[Any]], Sequence[Any]],
    seen: dict[str, int],
    existing: frozenset[str],
    now: dt.datetime,
    errors: Collector,
) -> None:
    """The rows of checked columns in order: a good row kept as parsed (its record id taken), a
    faulty one checked on its own, which names its problems."""
    result = errors.result
    for position, number in enumerate(columns.numbers):
        if position not in columns.faulty:
            seen[columns.record_ids[position]] = number
            result.rows.append(columns.parsed[position])
            continue
        parsed = check_row(number, columns.cells[position], pick, seen, existing, now, errors)
        if parsed is not None:
            result.rows.append(parsed)
        if result.truncated:
            break


def _finish(result: ParseResult, errors: Collector, keep_good_rows: bool) -> ParseResult:
    if not result.errors and not result.rows:
        errors.add(2, "", _("明细中没有数据行"))
    if result.errors and not keep_good_rows:
        result.rows = []
    return result
