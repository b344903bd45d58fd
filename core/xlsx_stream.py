"""The data rows of a streamed (write-only) sheet written as XML text, straight into the sheet's file.

openpyxl's write-only sheet still makes a cell object per value and writes it element by
element, about twenty microseconds a cell: a yearly workbook of ten thousand applications
spent seconds there. :class:`RowStream` writes each row as the text openpyxl would write
for the same cells — the same coordinates, data types, style ids (asked of openpyxl once per
style), inline strings, numbers through openpyxl's own ``safe_string`` and dates through its
``to_excel`` — and puts the text into the sheet's file itself, between the elements openpyxl's
XML stream writes (the sheet's head before the rows, its tail after them). The cells a reader
sees are the same; ``yingdu.tests.test_xlsx_stream`` compares them with openpyxl's.

A row's text is made once per cell kind: text escaped only where it holds a character XML
reserves, the ending of a date's or an amount's cell remembered by value (a year's rows share
few days and amounts). A row that could not be written as plain text — a value of another
type, a character XML cannot hold — goes the careful way: each value checked as openpyxl
checks it (an illegal control character raises openpyxl's ``IllegalCharacterError``) and the
row parsed by lxml before it is written, so such rows fail or pass exactly as openpyxl's do.

The sheet's file is written through a file object of ours (:class:`_SheetWriter`, openpyxl's own
sheet writer with that one change), opened and closed as openpyxl does it
(``WriteOnlyWorksheet.close`` ends it when the workbook is saved). Only with lxml, which
openpyxl uses when it is installed; :func:`available` says whether this path can be used.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Generator, Sequence
from decimal import Decimal
from typing import Any, BinaryIO
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
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.xml.constants import SHEET_MAIN_NS

_STRING_LIMIT = 32767  # openpyxl cuts longer text to this length
# A carriage return as a reference: the XML parser would read a bare one as a line feed.
_ENTITIES = {"\r": "&#13;"}
# What a text value must not hold to be written as it is: openpyxl's illegal control characters,
# and what XML 1.0 cannot hold at all (lone surrogates, U+FFFE, U+FFFF). Such rows go the careful
# way. Only text that is not all printable (``str.isprintable``, a quicker scan) is searched.
_NOT_PLAIN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_FLUSH_ROWS = 1000  # rows of text gathered before they go to the file
_REMEMBERED = 20_000  # cell endings remembered per kind; forgotten all at once beyond that


def escape(text: str) -> str:
    return _escape(text, _ENTITIES)


def available(ws: Any) -> bool:
    """Whether ``ws`` is a write-only sheet that nothing has been written to yet, and lxml writes it."""
    return (
        bool(openpyxl.LXML)
        and isinstance(ws, WriteOnlyWorksheet)
        and getattr(ws, "_rows", None) is None
        and getattr(ws, "_writer", None) is None
    )


class _SheetWriter(WorksheetWriter):  # type: ignore[misc]  # openpyxl is untyped
    """openpyxl's sheet writer, its XML stream (``WorksheetWriter.get_stream``) going into a file
    object of ours, so that rows already written as text can go into the same file."""

    file: BinaryIO

    def get_stream(self) -> Generator[Any, Any, None]:
        with (
            open(self.out, "wb") as self.file,
            etree.xmlfile(self.file) as xf,
            xf.element("worksheet", xmlns=SHEET_MAIN_NS),
        ):
            try:
                while True:
                    el = yield
                    if el is True:
                        yield xf
                    elif el is None:
                        continue
                    else:
                        xf.write(el)
            except GeneratorExit:
                pass


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
        self.starts: list[str] = []  # '<c r="A' for column A, and so on
        self.attributes = _Styles(self._style)
        self.endings: dict[type, dict[Any, str]] = {Decimal: {}, dt.date: {}, dt.datetime: {}}
        self.pending: list[str] = []  # rows of text not yet in the file
        self.row = 0
        writer = _SheetWriter(ws)
        writer.write_top()
        ws._writer = writer
        self.file = writer.file
        self.xf: Any = None
        ws._rows = self._stream()
        next(ws._rows)

    def _stream(self) -> Generator[None, Any, None]:
        # openpyxl's own ``WriteOnlyWorksheet._write_rows``, taking rows that are already elements
        # (from :meth:`append`'s careful way) as well as rows of values (``ws.append`` after them);
        # rows of text gathered before either are written first.
        ws = self.ws
        xf = self.xf = ws._writer.xf.send(True)
        with xf.element("sheetData"):
            try:
                while True:
                    row = yield
                    self._flush()
                    if isinstance(row, etree._Element):
                        xf.write(row)
                    else:
                        self.row += 1
                        ws._writer.write_row(xf, ws._values_to_row(row, self.row), self.row)
            except GeneratorExit:
                self._flush()
        ws._writer.xf.send(None)

    def _flush(self) -> None:
        if self.pending:
            self.xf.flush()  # what lxml has written so far goes first
            self.file.write("".join(self.pending).encode())
            self.pending.clear()

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

    def _ending(self, value: Any, bold: bool) -> str:
        """A cell of a value that is not text nor empty, after its ``r`` attribute: style, type, value."""
        style = self.attributes[(self.number_format(value), bold)]
        if type(value) is bool:
            return f'{style} t="b"><v>{safe_string(value)}</v></c>'
        if isinstance(value, dt.date):
            return f'{style} t="n"><v>{safe_string(to_excel(value, self.epoch))}</v></c>'
        if isinstance(value, int | float | Decimal):
            return f'{style} t="n"><v>{safe_string(value)}</v></c>'
        raise ValueError(f"Cannot convert {value!r} to Excel")

    def append(self, values: Sequence[Any], *, bold: bool = False) -> None:
        """One row of values already made safe (``core.xlsx.safe_cell``)."""
        starts = self.starts
        while len(starts) < len(values):
            starts.append(f'<c r="{get_column_letter(len(starts) + 1)}')
        row = str(self.row + 1)
        text = None if bold else self._plain(values, row)
        if text is None:
            text = self._checked(values, row, bold)
            self.row += 1
            self.ws._rows.send(etree.fromstring(text))
            return
        self.row += 1
        self.pending.append(text)
        if len(self.pending) >= _FLUSH_ROWS:
            self._flush()

    def _plain(self, values: Sequence[Any], row: str) -> str | None:
        """The row's text, or None where it must go the careful way (:meth:`_checked`)."""
        endings = self.endings
        decimals, dates, moments = endings[Decimal], endings[dt.date], endings[dt.datetime]
        parts = [f'<row r="{row}">']
        add = parts.append
        try:
            for start, value in zip(self.starts, values, strict=False):
                kind = type(value)
                if kind is str:
                    if not value:
                        add(f'{start}{row}" t="inlineStr"/>')
                        continue
                    text = value[:_STRING_LIMIT]
                    if not text.isprintable() and _NOT_PLAIN.search(text):
                        return None  # a line break is not printable but plain; a control character is neither
                    space = ' xml:space="preserve"' if text != text.strip() else ""
                    if "&" in text or "<" in text or ">" in text or "\r" in text:
                        text = escape(text)
                    add(f'{start}{row}" t="inlineStr"><is><t{space}>{text}</t></is></c>')
                elif value is None:
                    continue
                elif kind is Decimal:
                    key = str(value)  # the exponent matters (an amount has two places), so not the value
                    ending = decimals.get(key)
                    if ending is None:
                        if len(decimals) >= _REMEMBERED:
                            decimals.clear()
                        ending = decimals[key] = self._ending(value, False)
                    add(f'{start}{row}"{ending}')
                elif kind is dt.date or kind is dt.datetime:
                    remembered = dates if kind is dt.date else moments
                    ending = remembered.get(value)
                    if ending is None:
                        if len(remembered) >= _REMEMBERED:
                            remembered.clear()
                        ending = remembered[value] = self._ending(value, False)
                    add(f'{start}{row}"{ending}')
                elif kind is int or kind is float or kind is bool:
                    add(f'{start}{row}"{self._ending(value, False)}')
                else:
                    return None
        except (ValueError, TypeError, ArithmeticError):
            return None  # the careful way raises it in the row's order
        add("</row>")
        return "".join(parts)

    def _checked(self, values: Sequence[Any], row: str, bold: bool) -> str:
        """The row's text, each value checked in order as openpyxl checks it."""
        text_style = self.attributes[(None, True)] if bold else ""
        parts = [f'<row r="{row}">']
        add = parts.append
        for start, value in zip(self.starts, values, strict=False):
            if type(value) is str:
                # Text stays text, as ``append_row`` writes it: an error code such as "#N/A" too.
                text = value[:_STRING_LIMIT]
                if not text:
                    add(f'{start}{row}"{text_style} t="inlineStr"/>')
                    continue
                if ILLEGAL_CHARACTERS_RE.search(text):
                    raise IllegalCharacterError(f"{text} cannot be used in worksheets.")
                space = ' xml:space="preserve"' if text != text.strip() else ""
                add(f'{start}{row}"{text_style} t="inlineStr"><is><t{space}>{escape(text)}</t></is></c>')
            elif value is None:
                if bold:
                    add(f'{start}{row}"{text_style} t="n"/>')
            else:
                add(f'{start}{row}"{self._ending(value, bold)}')
        add("</row>")
        return "".join(parts)
