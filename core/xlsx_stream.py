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


class _Styles(dict[tuple[str | None, bool], str]):
    """Style attributes by (number format, bold), each asked of openpyxl the first time."""

    def __init__(self, make: Callable[[tuple[str | None, bool]], str]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, key: tuple[str | None, bool]) -> str:
        found = self[key] = self.make(key)
        return found


class RowStream:
    """Rows of one write-only sheet, each value written as :func:`core.xlsx.append_row` makes its cell."""

    def __init__(self, ws: WriteOnlyWorksheet, number_format: Callable[[Any], str | None]) -> None:
        self.ws: Any = ws  # its stream's parts are openpyxl's own, not typed
        self.number_format = number_format
        self.epoch = ws.parent.epoch
        self.letters: list[str] = []
        self.attributes = _Styles(self._style)
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

    def _style(self, key: tuple[str | None, bool]) -> str:
        """The ``s`` attribute of cells with a number format and boldness (none for neither)."""
        fmt, bold = key
        if fmt is None and not bold:
            return ""
        cell = WriteOnlyCell(self.ws)
        if fmt is not None:
            cell.number_format = fmt
        if bold:
            cell.font = Font(bold=True)
        return f' s="{cell.style_id}"'

    def append(self, values: Sequence[Any], *, bold: bool = False) -> None:
        """One row of values already made safe (``core.xlsx.safe_cell``)."""
        self.row += 1
        row = str(self.row)
        letters = self.letters
        while len(letters) < len(values):
            letters.append(get_column_letter(len(letters) + 1))
        styles = self.attributes
        number_format = self.number_format
        text_style = styles[(None, True)] if bold else ""
        parts = [f'<row r="{row}">']
        add = parts.append
        for letter, value in zip(letters, values, strict=False):
            kind = type(value)
            if kind is str:
                # Text stays text, as ``append_row`` writes it: an error code such as "#N/A" too.
                text = value[:_STRING_LIMIT]
                if not text:
                    add(f'<c r="{letter}{row}"{text_style} t="inlineStr"/>')
                    continue
                if ILLEGAL_CHARACTERS_RE.search(text):
                    raise IllegalCharacterError(f"{text} cannot be used in worksheets.")
                space = ' xml:space="preserve"' if text != text.strip() else ""
                add(
                    f'<c r="{letter}{row}"{text_style} t="inlineStr"><is><t{space}>{escape(text)}</t></is></c>'
                )
            elif value is None:
                if bold:
                    add(f'<c r="{letter}{row}"{text_style} t="n"/>')
            else:
                style = styles[(number_format(value), bold)]
                if kind is bool:
                    add(f'<c r="{letter}{row}"{style} t="b"><v>{safe_string(value)}</v></c>')
                elif isinstance(value, dt.date):
                    number = safe_string(to_excel(value, self.epoch))
                    add(f'<c r="{letter}{row}"{style} t="n"><v>{number}</v></c>')
                elif isinstance(value, int | float | Decimal):
                    add(f'<c r="{letter}{row}"{style} t="n"><v>{safe_string(value)}</v></c>')
                else:
                    raise ValueError(f"Cannot convert {value!r} to Excel")
        add("</row>")
        self.ws._rows.send(etree.fromstring("".join(parts)))
