"""The data rows of a streamed (write-only) sheet written as XML text, a row at a time.

openpyxl's write-only sheet still makes a cell object per value and writes it element by
element, about twenty microseconds a cell: a yearly workbook of ten thousand applications
spent seconds there. :class:`RowStream` writes each row as the text openpyxl would write
for the same cells — the same coordinates, data types, style ids (asked of openpyxl once per
style), inline strings, numbers through openpyxl's own ``safe_string`` and dates through its
``to_excel`` — and hands openpyxl's XML stream one parsed ``<row>`` element. The cells a
reader sees are the same; ``yingdu.tests.test_xlsx_stream`` compares them with openpyxl's.

The rows go into the sheet's own stream, so it is opened and closed as openpyxl does it
(``WriteOnlyWorksheet.close`` ends it when the workbook is saved). Only with lxml, which
openpyxl uses when it is installed; :func:`available` says whether this path can be used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Generator, Sequence
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape as _escape

import openpyxl
from lxml import etree
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.compat import safe_string
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.utils.exceptions import IllegalCharacterError
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

_STRING_LIMIT = 32767  # openpyxl cuts longer text to this length
# A carriage return as a reference: the XML parser would read a bare one as a line feed.
_ENTITIES = {"\r": "&#13;"}


def escape(text: str) -> str:
    return _escape(text, _ENTITIES)


def available(ws: Any) -> bool:
    """Whether ``ws`` is a write-only sheet that no row has been written to yet, and lxml writes it."""
    return bool(openpyxl.LXML) and isinstance(ws, WriteOnlyWorksheet) and getattr(ws, "_rows", None) is None


class RowStream:
    """Rows of one write-only sheet, each value written as :func:`yingdu.xlsx.append_row` makes its cell."""

    def __init__(self, ws: WriteOnlyWorksheet, number_format: Callable[[Any], str | None]) -> None:
        self.ws: Any = ws  # its stream's parts are openpyxl's own, not typed
        self.number_format = number_format
        self.epoch = ws.parent.epoch
        self.letters: list[str] = []
        self.styles: dict[tuple[str | None, bool], str] = {}
        self.row = 0
        ws._get_writer()
        ws._rows = self._stream()
        next(ws._rows)

    def _stream(self) -> Generator[None, Any, None]:
        # openpyxl's own ``WriteOnlyWorksheet._write_rows``, taking rows that are already elements
        # (from :meth:`append`) as well as rows of values (``ws.append`` after them).
        ws = self.ws
        xf = ws._writer.xf.send(True)
        with xf.element("sheetData"):
            try:
                while True:
                    row = yield
                    if isinstance(row, etree._Element):
                        xf.write(row)
                    else:
                        self.row += 1
                        ws._writer.write_row(xf, ws._values_to_row(row, self.row), self.row)
            except GeneratorExit:
                pass
        ws._writer.xf.send(None)

    def _style(self, fmt: str | None, bold: bool) -> str:
        key = (fmt, bold)
        found = self.styles.get(key)
        if found is None:
            cell = WriteOnlyCell(self.ws)
            if fmt is not None:
                cell.number_format = fmt
            if bold:
                cell.font = Font(bold=True)
            found = self.styles[key] = str(cell.style_id)
        return found

    def append(self, values: Sequence[Any], *, bold: bool = False) -> None:
        """One row of values already made safe (``yingdu.xlsx.safe_cell``)."""
        self.row += 1
        row = str(self.row)
        letters = self.letters
        while len(letters) < len(values):
            letters.append(get_column_letter(len(letters) + 1))
        parts = [f'<row r="{row}">']
        for column, value in enumerate(values):
            ref = letters[column] + row
            kind = type(value)
            if kind is str:
                text = value[:_STRING_LIMIT]
                if ILLEGAL_CHARACTERS_RE.search(text):
                    raise IllegalCharacterError(f"{text} cannot be used in worksheets.")
                style = f' s="{self._style(None, True)}"' if bold else ""
                # Text stays text, as ``append_row`` writes it: an error code such as "#N/A" too.
                if not text:
                    parts.append(f'<c r="{ref}"{style} t="inlineStr"/>')
                else:
                    space = ' xml:space="preserve"' if text != text.strip() else ""
                    parts.append(
                        f'<c r="{ref}"{style} t="inlineStr"><is><t{space}>{escape(text)}</t></is></c>'
                    )
                continue
            if value is None:
                if bold:
                    parts.append(f'<c r="{ref}" s="{self._style(None, True)}" t="n"/>')
                continue
            fmt = self.number_format(value)
            style = f' s="{self._style(fmt, bold)}"' if fmt is not None or bold else ""
            if kind is bool:
                parts.append(f'<c r="{ref}"{style} t="b"><v>{safe_string(value)}</v></c>')
            elif isinstance(value, dt.date):
                parts.append(
                    f'<c r="{ref}"{style} t="n"><v>{safe_string(to_excel(value, self.epoch))}</v></c>'
                )
            elif isinstance(value, int | float | Decimal):
                parts.append(f'<c r="{ref}"{style} t="n"><v>{safe_string(value)}</v></c>')
            else:
                raise ValueError(f"Cannot convert {value!r} to Excel")
        parts.append("</row>")
        assert self.ws._rows is not None
        self.ws._rows.send(etree.fromstring("".join(parts)))
