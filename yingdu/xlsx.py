"""Safe XLSX writing shared by every export (reports, review 台账, audits blacklist).

Spreadsheet programs evaluate a cell whose text starts with ``=``, ``+``, ``-`` or ``@``
(and, in some versions, a leading tab or carriage return) as a formula. Exported values
come from applicants (company names, work titles, opinions), so a name such as
``=HYPERLINK("http://x","y")`` would become a live link or worse (CSV/formula injection,
OWASP). Every text cell is therefore prefixed with an apostrophe-like ``'`` when it starts
with one of those characters, and openpyxl is told the cell is a string, never a formula.

Numbers, dates and Decimals are written as native values so the sheet can still sum them;
only text is neutralised.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.http import HttpResponse
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

CellValue = str | int | float | Decimal | dt.date | dt.datetime | bool | None


def safe_cell(value: Any) -> CellValue:
    """Return a value that openpyxl writes as inert data.

    Text starting with a formula trigger gets a leading ``'``; numbers, dates and booleans
    pass through; aware datetimes lose their tzinfo after conversion to local time
    (XLSX has no time zones); anything else is turned into text and checked the same way.
    """
    if value is None or isinstance(value, bool | int | float | Decimal | dt.date):
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            from django.utils import timezone

            return timezone.localtime(value).replace(tzinfo=None)
        return value
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def write_sheet(
    ws: Worksheet,
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    widths: Sequence[int] | None = None,
) -> int:
    """Write a bold header row and the data rows through :func:`safe_cell`.

    Returns the number of data rows written. Text cells are forced to the string data type
    so that openpyxl never stores them as formulas, even if the prefix rule changes.
    """
    ws.append([safe_cell(h) for h in headers])
    # ``ws.max_row`` scans every cell, so it is read once; appended rows are counted instead
    # (reading it per row made a 2,000-row sheet take seconds).
    header_row = ws.max_row
    for cell in ws[header_row]:
        cell.font = Font(bold=True)
    count = 0
    for row in rows:
        values = [safe_cell(v) for v in row]
        ws.append(values)
        count += 1
        for column, value in enumerate(values, start=1):
            if isinstance(value, str):
                ws.cell(row=header_row + count, column=column).data_type = "s"
    ws.freeze_panes = f"A{header_row + 1}"
    for index, header in enumerate(headers, start=1):
        width = widths[index - 1] if widths and index - 1 < len(widths) else max(10, len(str(header)) * 2 + 2)
        ws.column_dimensions[get_column_letter(index)].width = width
    return count


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
