"""Safe XLSX writing shared by every export (reports, review 台账, audits blacklist), and the
bounds an uploaded workbook must keep before anything reads it.

Spreadsheet programs evaluate a cell whose text starts with ``=``, ``+``, ``-`` or ``@``
(and, in some versions, a leading tab or carriage return) as a formula. Exported values
come from applicants (company names, work titles, opinions), so a name such as
``=HYPERLINK("http://x","y")`` would become a live link or worse (CSV/formula injection,
OWASP). Every text cell is therefore prefixed with an apostrophe-like ``'`` when it starts
with one of those characters, and openpyxl is told the cell is a string, never a formula.

Numbers, dates and Decimals are written as native values so the sheet can still sum them;
only text is neutralised. Amounts (Decimals of two places, as every amount of the platform is)
get the number format ``#,##0.00``, so a workbook reads like the pages (``9,750.00``); moments
are shown as ``yyyy-mm-dd hh:mm`` in Beijing time, never in General format.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.http import HttpResponse
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import column_index_from_string, get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from core import xlsx_stream
from core.filetypes import TABLE_MAX_COLUMNS, TABLE_MAX_ROWS

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
XLSX_MONEY_FORMAT = "#,##0.00"
XLSX_DATETIME_FORMAT = 'yyyy"年"m"月"d"日" hh:mm'  # i18n: data
XLSX_DATE_FORMAT = 'yyyy"年"m"月"d"日"'  # i18n: data

CellValue = str | int | float | Decimal | dt.date | dt.datetime | bool | None


_PLAIN = frozenset({bool, int, float, Decimal, dt.date})  # types written as they are (not datetime)


def safe_cell(value: Any) -> CellValue:
    """Return a value that openpyxl writes as inert data.

    Text starting with a formula trigger gets a leading ``'``; numbers, dates and booleans
    pass through; aware datetimes lose their tzinfo after conversion to local time
    (XLSX has no time zones); anything else is turned into text and checked the same way.
    """
    kind = type(value)
    if kind is str:  # the common case first
        plain: str = value
        return "'" + plain if plain.startswith(FORMULA_PREFIXES) else plain
    if value is None or kind in _PLAIN:
        known: CellValue = value
        return known
    if isinstance(value, bool | int | float | Decimal | dt.date):
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            from django.utils import timezone

            return timezone.localtime(value).replace(tzinfo=None)
        return value
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def is_amount(value: Decimal) -> bool:
    """An amount has exactly two decimal places (rates and ratios carry more or fewer)."""
    return value.is_finite() and value.as_tuple().exponent == -2


def _number_format(value: CellValue) -> str | None:
    if isinstance(value, Decimal) and is_amount(value):
        return XLSX_MONEY_FORMAT
    if isinstance(value, dt.datetime):
        return XLSX_DATETIME_FORMAT
    if isinstance(value, dt.date):
        return XLSX_DATE_FORMAT
    return None


def _streamed_row(ws: WriteOnlyWorksheet, row: Sequence[Any], *, bold: bool = False) -> list[Any]:
    """One row of a write-only sheet, each cell as :func:`append_row` makes it.

    A cell object is made only where a cell needs more than its value (a number format, bold,
    text that openpyxl would read as a formula); other values are written as they are.
    """
    cells: list[Any] = []
    for raw in row:
        value = safe_cell(raw)
        fmt = None if isinstance(value, str) else _number_format(value)
        if not bold and fmt is None and not (isinstance(value, str) and value.startswith("=")):
            cells.append(value)
            continue
        cell = WriteOnlyCell(ws, value=value)
        if isinstance(value, str):
            cell.data_type = "s"
        elif fmt is not None:
            cell.number_format = fmt
        if bold:
            cell.font = Font(bold=True)
        cells.append(cell)
    return cells


def append_row(
    ws: Worksheet | WriteOnlyWorksheet, row: Sequence[Any], *, row_index: int | None = None
) -> None:
    """Append one row through :func:`safe_cell`: text stays text, amounts and moments get their
    number formats. ``row_index`` is the row it lands on, when the caller knows it (``ws.max_row``
    scans every cell). A write-only sheet (``Workbook(write_only=True)``) gets the same cells, streamed."""
    if isinstance(ws, WriteOnlyWorksheet):
        ws.append(_streamed_row(ws, row))
        return
    values = [safe_cell(v) for v in row]
    ws.append(values)
    index = row_index if row_index is not None else ws.max_row
    for column, value in enumerate(values, start=1):
        cell = ws.cell(row=index, column=column)
        if isinstance(value, str):
            cell.data_type = "s"
        elif isinstance(value, Decimal) and is_amount(value):
            cell.number_format = XLSX_MONEY_FORMAT
        elif isinstance(value, dt.datetime):
            cell.number_format = XLSX_DATETIME_FORMAT
        elif isinstance(value, dt.date):
            cell.number_format = XLSX_DATE_FORMAT


def _width(headers: Sequence[str], widths: Sequence[int] | None, index: int) -> int:
    return (
        widths[index - 1]
        if widths and index - 1 < len(widths)
        else max(10, len(str(headers[index - 1])) * 2 + 2)
    )


def write_sheet(
    ws: Worksheet | WriteOnlyWorksheet,
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    widths: Sequence[int] | None = None,
) -> int:
    """Write a bold header row and the data rows through :func:`safe_cell`.

    Returns the number of data rows written. Text cells are forced to the string data type
    so that openpyxl never stores them as formulas, even if the prefix rule changes. A
    write-only sheet is streamed: its rows go to the file as they come, none kept in memory,
    with the same values, formats, widths and frozen header.
    """
    if isinstance(ws, WriteOnlyWorksheet):
        # Widths and the frozen header are written before the first row.
        for index in range(1, len(headers) + 1):
            ws.column_dimensions[get_column_letter(index)].width = _width(headers, widths, index)
        ws.freeze_panes = "A2"
        if xlsx_stream.available(ws):
            stream = xlsx_stream.RowStream(ws, _number_format)
            stream.append([safe_cell(h) for h in headers], bold=True)
            count = 0
            for row in rows:
                stream.append([safe_cell(v) for v in row])
                count += 1
            return count
        ws.append(_streamed_row(ws, headers, bold=True))
        count = 0
        for row in rows:
            ws.append(_streamed_row(ws, row))
            count += 1
        return count
    ws.append([safe_cell(h) for h in headers])
    # ``ws.max_row`` scans every cell, so it is read once; appended rows are counted instead
    # (reading it per row made a 2,000-row sheet take seconds).
    header_row = ws.max_row
    for cell in ws[header_row]:
        cell.font = Font(bold=True)
    count = 0
    for row in rows:
        append_row(ws, row, row_index=header_row + count + 1)
        count += 1
    ws.freeze_panes = f"A{header_row + 1}"
    for index in range(1, len(headers) + 1):
        ws.column_dimensions[get_column_letter(index)].width = _width(headers, widths, index)
    return count


def workbook_bytes(workbook: Workbook, *, compresslevel: int | None = None) -> bytes:
    """The workbook's file, as ``Workbook.save`` writes it, its parts compressed at ``compresslevel``
    (zlib's 1–9; openpyxl's own is zlib's default, 6). Level 1 compresses the sheets of a large
    streamed workbook about four times faster, for a file about a third larger."""
    out = io.BytesIO()
    if workbook.write_only and not workbook.worksheets:
        workbook.create_sheet()  # as ``Workbook.save`` does
    archive = zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True, compresslevel=compresslevel)
    # openpyxl's ``save_workbook``, with the archive's compression level ours.
    workbook.properties.modified = dt.datetime.now(tz=dt.UTC).replace(tzinfo=None)
    ExcelWriter(workbook, archive).save()
    return out.getvalue()


XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_response(workbook: Workbook | bytes, filename: str) -> HttpResponse:
    """An export as a download: never cached, never sniffed."""
    if not isinstance(workbook, bytes):
        out = io.BytesIO()
        workbook.save(out)
        workbook = out.getvalue()
    response = HttpResponse(workbook, content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- reading: bounds checked on the zip before openpyxl sees the workbook ----------------------

# The shared-string table is read whole into memory by openpyxl, so it is bounded tightly;
# other parts are streamed and bounded for time. Ratios above this are not spreadsheets
# but decompression bombs (real sheet XML compresses 10–50 times).
XLSX_MAX_SHARED_STRINGS_BYTES = 32 * 1024 * 1024
XLSX_MAX_PART_BYTES = 128 * 1024 * 1024
XLSX_MAX_PARTS = 1_000
XLSX_MAX_RATIO = 200
# A row element's start and its row number (``r`` is optional; Excel and openpyxl write it first).
_ROW_START = re.compile(rb"<(?:\w+:)?row[\s>/]")
_ROW_NUMBER = re.compile(rb"<(?:\w+:)?row\s[^>]*?\br=\"(\d{1,12})\"")
_ROW_SCAN_CHUNK = 64 * 1024
_ROW_SCAN_OVERLAP = 256
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"([A-Za-z]{1,3})?(\d+)?(?::([A-Za-z]{1,3})(\d+))?\"")
_SHEET_PART = re.compile(r"^xl/worksheets/[^/]+\.xml$")


def check_workbook_bounds(content: bytes, name: str) -> None:
    """Refuse an XLSX whose parts or sheets exceed the reading bounds, naming the file and the limit.

    Everything is read from the zip's directory and the first bytes of each sheet (its
    ``<dimension ref="A1:I120">``), never by decompressing the workbook. Python's zip
    reader stops at each member's declared size, so the declared sizes are real bounds.
    A sheet whose dimension lies is bounded again while it is read (``TABLE_MAX_ROWS``).
    """
    from django.core.exceptions import ValidationError
    from django.utils.translation import gettext as _

    def refuse(what: str, limit: int, unit: str = "") -> ValidationError:
        return ValidationError(
            _("文件“%(name)s”%(what)s超过限制（至多 %(limit)s%(unit)s），已拒收")
            % {"name": name, "what": what, "limit": f"{limit:,}", "unit": unit},
            code="table_too_large",
        )

    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValidationError(
            _("文件“%(name)s”不是有效的 XLSX 文件") % {"name": name}, code="xlsx_invalid"
        ) from exc
    with archive:
        members = archive.infolist()
        if len(members) > XLSX_MAX_PARTS:
            raise refuse(str(_("包含的部件数")), XLSX_MAX_PARTS, str(_("个")))
        for member in members:
            if member.filename == "xl/sharedStrings.xml" and member.file_size > XLSX_MAX_SHARED_STRINGS_BYTES:
                raise refuse(str(_("的共享字符串表")), XLSX_MAX_SHARED_STRINGS_BYTES // (1024 * 1024), " MB")
            if member.file_size > XLSX_MAX_PART_BYTES:
                raise refuse(str(_("解压后的单个部件")), XLSX_MAX_PART_BYTES // (1024 * 1024), " MB")
            if member.file_size > 1024 * 1024 and member.file_size > XLSX_MAX_RATIO * max(
                member.compress_size, 1
            ):
                raise refuse(str(_("的压缩比")), XLSX_MAX_RATIO, str(_("倍")))
        for member in members:
            if not _SHEET_PART.match(member.filename):
                continue
            try:
                with archive.open(member) as part:
                    head = part.read(64 * 1024)
            except (zipfile.BadZipFile, OSError, NotImplementedError, EOFError) as exc:
                raise ValidationError(
                    _("文件“%(name)s”不是有效的 XLSX 文件") % {"name": name}, code="xlsx_invalid"
                ) from exc
            match = _DIMENSION.search(head)
            if match is None:
                continue
            first_col, first_row, last_col, last_row = match.groups()
            column = last_col or first_col
            row = last_row or first_row
            if row is not None and int(row) > TABLE_MAX_ROWS:
                raise refuse(str(_("的行数")), TABLE_MAX_ROWS, str(_("行")))
            if column is not None and column_index_from_string(column.decode().upper()) > TABLE_MAX_COLUMNS:
                raise refuse(str(_("的列数")), TABLE_MAX_COLUMNS, str(_("列")))
        for member in members:
            if _SHEET_PART.match(member.filename) and _rows_beyond(archive, member, TABLE_MAX_ROWS):
                raise refuse(str(_("的行数")), TABLE_MAX_ROWS, str(_("行")))


def _rows_beyond(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limit: int) -> bool:
    """Whether a sheet holds more than ``limit`` row elements or a row numbered beyond it, whatever
    its dimension says: a scan of its XML in fixed-size chunks that stops at the first row past
    the limit (rows come in order), so a sheet of millions of blank rows is refused after the
    first ``limit`` of them, in constant memory."""
    rows, tail = 0, b""
    try:
        with archive.open(member) as part:
            while chunk := part.read(_ROW_SCAN_CHUNK):
                text = tail + chunk
                rows += len(_ROW_START.findall(text)) - len(_ROW_START.findall(tail))
                if rows > limit or any(int(m.group(1)) > limit for m in _ROW_NUMBER.finditer(text)):
                    return True
                tail = text[-_ROW_SCAN_OVERLAP:]
    except (zipfile.BadZipFile, OSError, NotImplementedError, EOFError):
        return False  # the reader says what is wrong with the sheet
    return False
