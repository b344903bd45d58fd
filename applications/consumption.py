"""The consumption detail (算力消耗明细单, docs/form.md): its template and a parser with row-level errors.

Pure functions over bytes: no ORM. The header is row 1, in Chinese or in the English column
names of docs/form.md, in any order; row numbers in errors are the rows of the file as the
applicant sees them in a spreadsheet. Each column's rule:

================  =========================================================================
record_id         required, at most 64 characters, unique in the application
started_at        date and time (``2026-03-01 08:00``, ``2026/3/1 8:00:00`` or ISO 8601);
ended_at          a time without zone is Beijing time; the end is after the start, and
                  neither is in the future
resource          required (the card model, e.g. H200)
quantity          cards, integer ≥ 1
minutes           integer ≥ 1, not more than the minutes between start and end
unit_price        CNY per card-hour, ≥ 0, at most four decimals
amount            CNY, > 0, at most two decimals; equals quantity × minutes ÷ 60 × unit_price
                  rounded half up to the cent (**Interpretation**: the unit price is per
                  card-hour, the way providers quote GPU time)
scenario          text2video | image2video | voice | finetune | render | other (or 文生视频,
                  图生视频, 语音, 微调, 渲染, 其他)
================  =========================================================================

A CSV is checked by columns in blocks of rows, and its faulty rows one by one to name their problems
(``_check_blocks``), with the same errors and rows as the row-by-row check of a workbook.

This is the earlier, GPU-only layout, still accepted; the platform's template is now the usage-line
layout of ``applications.vendor_formats.template``. Its rows become usage lines (card-seconds, paid =
amount) and row 23 must equal the base computed from them (docs/usage-formats.md); the detail need
not add up to row 22.
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import io
import math
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from itertools import compress, count, islice, repeat
from operator import attrgetter, gt, is_, is_not, itemgetter, sub
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.filetypes import TABLE_MAX_COLUMNS, TABLE_MAX_ROWS
from core.lib.money import round_half_up

BEIJING = ZoneInfo("Asia/Shanghai")
_T = TypeVar("_T")
_TZINFO = attrgetter("tzinfo")
MAX_ROWS = 50_000
MAX_ERRORS = 200
# A CSV is checked by columns this many rows at a time.
ROWS_AT_ONCE = 2048

CSV_MIME = "text/csv"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

COLUMNS: tuple[str, ...] = (
    "record_id",
    "started_at",
    "ended_at",
    "resource",
    "quantity",
    "minutes",
    "unit_price",
    "amount",
    "scenario",
)
HEADERS: dict[str, Any] = {
    "record_id": gettext_lazy("记录编号"),
    "started_at": gettext_lazy("开始时间"),
    "ended_at": gettext_lazy("结束时间"),
    "resource": gettext_lazy("算力资源"),
    "quantity": gettext_lazy("数量（卡）"),
    "minutes": gettext_lazy("时长（分钟）"),
    "unit_price": gettext_lazy("单价（元/卡·小时）"),
    "amount": gettext_lazy("金额（元）"),
    "scenario": gettext_lazy("使用场景"),
}
# Header spellings accepted for each column (compared after normalisation, see _header_key).
ALIASES: dict[str, tuple[str, ...]] = {
    "record_id": ("record_id", "recordid", "记录编号", "记录id", "编号", "流水号"),
    "started_at": ("started_at", "startedat", "start", "开始时间", "起始时间"),
    "ended_at": ("ended_at", "endedat", "end", "结束时间", "截止时间"),
    "resource": ("resource", "算力资源", "资源", "资源类型", "gpu型号", "卡型"),
    "quantity": ("quantity", "数量", "卡数", "数量卡"),
    "minutes": ("minutes", "时长", "使用时长", "时长分钟"),
    "unit_price": ("unit_price", "unitprice", "单价"),
    "amount": ("amount", "金额", "费用", "金额元"),
    "scenario": ("scenario", "使用场景", "场景", "应用场景"),
}
SCENARIOS: dict[str, Any] = {
    "text2video": gettext_lazy("文生视频"),
    "image2video": gettext_lazy("图生视频"),
    "voice": gettext_lazy("语音"),
    "finetune": gettext_lazy("微调"),
    "render": gettext_lazy("渲染"),
    "other": gettext_lazy("其他"),
}
SCENARIO_ALIASES = {
    "文生视频": "text2video",
    "图生视频": "image2video",
    "语音": "voice",
    "配音": "voice",
    "语音合成": "voice",
    "微调": "finetune",
    "模型微调": "finetune",
    "渲染": "render",
    "其他": "other",
    "其它": "other",
}


@dataclass(frozen=True)
class RowError:
    """One problem: the file's row (header = 1; 0 for the file as a whole), the column, the message."""

    row: int
    column: str
    message: str

    @property
    def column_label(self) -> str:
        return str(HEADERS[self.column]) if self.column in HEADERS else ""

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass(frozen=True)
class ParsedRow:
    row_number: int
    record_id: str
    started_at: dt.datetime
    ended_at: dt.datetime
    resource: str
    quantity: int
    minutes: int
    unit_price: Decimal
    amount: Decimal
    scenario: str


@dataclass
class ParseResult:
    rows: list[ParsedRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    truncated: bool = False  # more errors than MAX_ERRORS were found

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def total_minutes(self) -> int:
        return sum(r.minutes for r in self.rows)

    @property
    def total_amount(self) -> Decimal:
        return sum((r.amount for r in self.rows), Decimal("0.00"))

    def summary(self) -> str:
        """One Chinese sentence for a field error, listing the first rows at fault."""
        rows = sorted({e.row for e in self.errors})
        shown = "、".join(str(r) for r in rows[:10])
        more = _("等") if len(rows) > 10 else ""
        return _("算力消耗明细单有 %(count)d 处错误（第 %(rows)s%(more)s 行），请按下表修改后重新上传") % {
            "count": len(self.errors),
            "rows": shown,
            "more": more,
        }


class _Collector:
    def __init__(self, result: ParseResult) -> None:
        self.result = result

    def add(self, row: int, column: str, message: str) -> None:
        if len(self.result.errors) >= MAX_ERRORS:
            self.result.truncated = True
            return
        self.result.errors.append(RowError(row, column, message))


def _header_key(text: Any) -> str:
    """``"数量（卡）"`` → ``"数量"``, ``"Record_ID"`` → ``"recordid"``: units in brackets, case,
    spaces and separators do not matter."""
    value = str(text or "").strip().lower().replace("（", "(").replace("）", ")")
    value = re.sub(r"\(.*?\)", "", value)
    return re.sub(r"[\s_·/\-]", "", value)


_ALIAS_INDEX = {_header_key(alias): column for column, names in ALIASES.items() for alias in names}


def _map_header(cells: Sequence[Any]) -> tuple[dict[str, int], list[str]]:
    """Column name -> index, and the missing column names."""
    mapping: dict[str, int] = {}
    for index, cell in enumerate(cells):
        column = _ALIAS_INDEX.get(_header_key(cell))
        if column is not None and column not in mapping:
            mapping[column] = index
    missing = [c for c in COLUMNS if c not in mapping]
    return mapping, missing


_DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d %H:%M",
)


def _parse_datetime(value: Any) -> dt.datetime | None:
    if type(value) is str:  # a CSV cell: the ISO 8601 form first, at C speed
        try:
            moment = dt.datetime.fromisoformat(value.strip())
            return moment if moment.tzinfo is not None else moment.replace(tzinfo=BEIJING)
        except ValueError:
            pass
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=BEIJING)
    text = str(value or "").strip()
    if not text:
        return None
    parsed: dt.datetime | None = None
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        for fmt in _DATETIME_FORMATS:
            try:
                parsed = dt.datetime.strptime(text, fmt)  # noqa: DTZ007 - zone added below
                break
            except ValueError:
                continue
    if parsed is None:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=BEIJING)


def _parse_decimal(value: Any) -> Decimal | None:
    if type(value) is str:
        # Text that Decimal reads as it is holds no separator or currency sign to take out
        # (Decimal strips the same white space as str.strip).
        try:
            number = Decimal(value)
        except InvalidOperation:
            pass
        else:
            return number if number.is_finite() else None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        # Spreadsheet numbers are binary floats; their shortest repr is what the user typed.
        value = repr(value)
    text = str(value).strip().replace(",", "").replace("，", "").removeprefix("¥").removeprefix("￥")
    if not text:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _parse_int(value: Any) -> int | None:
    if type(value) is str:
        try:
            return int(value)  # digits only (white space and one sign allowed), as Decimal reads them
        except ValueError:
            pass
    number = _parse_decimal(value)
    if number is None or number != number.to_integral_value():
        return None
    return int(number)


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _more_decimals(value: Decimal, places: int) -> bool:
    """Whether ``value`` has more than ``places`` decimals (trailing zeros do not count)."""
    exponent = value.as_tuple().exponent
    if type(exponent) is int and exponent >= -places:
        return False  # no more digits written than allowed: none more after normalising
    return _decimals(value) > places


def _text(value: Any) -> str:
    if type(value) is str:
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


_CENT = Decimal("0.01")
_SIXTY = Decimal(60)


def _expected_amount(quantity: int, minutes: int, unit_price: Decimal) -> Decimal:
    """Cards × minutes ÷ 60 × the price per card-hour, rounded half up to the cent."""
    return round_half_up(Decimal(quantity) * Decimal(minutes) * unit_price / _SIXTY)


def _off_by_more_than_a_cent(amount: Decimal, expected: Decimal) -> bool:
    return abs(expected - amount) > _CENT


def _span_minutes(delta: dt.timedelta) -> int:
    """The minutes between a start and an end ``delta`` after it, a started minute counted whole."""
    return math.ceil(delta.total_seconds() / 60)


def _scenario_key(text: str) -> str:
    """The scenario's key for a cell's text (a key, its Chinese name, in any case); unknown text stays."""
    return SCENARIO_ALIASES.get(text, text.lower())


def _picker(mapping: dict[str, int]) -> Callable[[Sequence[Any]], Sequence[Any]]:
    """A row's cells in the order of ``COLUMNS`` (``None`` for a cell the row lacks), for a header's mapping."""
    indexes = [mapping[c] for c in COLUMNS]
    whole = itemgetter(*indexes)
    last = max(indexes)

    def pick(cells: Sequence[Any]) -> Sequence[Any]:
        if last < len(cells):
            return whole(cells)  # type: ignore[no-any-return]
        return [cells[i] if i < len(cells) else None for i in indexes]

    return pick


def _check_row(
    number: int,
    cells: Sequence[Any],
    pick: Callable[[Sequence[Any]], Sequence[Any]],
    seen: dict[str, int],
    existing_ids: frozenset[str],
    now: dt.datetime,
    errors: _Collector,
) -> ParsedRow | None:
    (
        raw_id,
        raw_started,
        raw_ended,
        raw_resource,
        raw_quantity,
        raw_minutes,
        raw_price,
        raw_amount,
        raw_scenario,
    ) = pick(cells)
    before = len(errors.result.errors)

    record_id = _text(raw_id)
    if not record_id:
        errors.add(number, "record_id", _("记录编号不能为空"))
    elif len(record_id) > 64:
        errors.add(number, "record_id", _("记录编号不能超过 64 个字符"))
    elif record_id in seen:
        errors.add(
            number,
            "record_id",
            _("记录编号“%(id)s”与第 %(row)d 行重复") % {"id": record_id, "row": seen[record_id]},
        )
    elif record_id in existing_ids:
        errors.add(number, "record_id", _("记录编号“%(id)s”已在本申请的其他明细中出现") % {"id": record_id})
    else:
        seen[record_id] = number

    started = _parse_datetime(raw_started)
    ended = _parse_datetime(raw_ended)
    for column, value, raw in (("started_at", started, raw_started), ("ended_at", ended, raw_ended)):
        if value is None:
            if _text(raw):
                errors.add(
                    number,
                    column,
                    _("“%(value)s”不是有效的时间，格式如 2026-03-01 08:00") % {"value": _text(raw)},
                )
            else:
                errors.add(number, column, _("%(column)s不能为空") % {"column": HEADERS[column]})
        elif value > now:
            errors.add(number, column, _("%(column)s不能晚于当前时间") % {"column": HEADERS[column]})
    if started is not None and ended is not None and ended <= started:
        errors.add(number, "ended_at", _("结束时间应晚于开始时间"))

    resource = _text(raw_resource)
    if not resource:
        errors.add(number, "resource", _("算力资源不能为空（如 H200）"))
    elif len(resource) > 64:
        errors.add(number, "resource", _("算力资源不能超过 64 个字符"))

    quantity = _parse_int(raw_quantity)
    if quantity is None or quantity < 1:
        errors.add(number, "quantity", _("数量（卡）应为不小于 1 的整数"))

    minutes = _parse_int(raw_minutes)
    if minutes is None or minutes < 1:
        errors.add(number, "minutes", _("时长（分钟）应为不小于 1 的整数"))
    elif started is not None and ended is not None and ended > started:
        span = _span_minutes(ended - started)
        if minutes > span:
            errors.add(
                number,
                "minutes",
                _("时长 %(minutes)d 分钟超过了起止时间之间的 %(span)d 分钟")
                % {"minutes": minutes, "span": span},
            )

    unit_price = _parse_decimal(raw_price)
    if unit_price is None or unit_price < 0:
        errors.add(number, "unit_price", _("单价应为不小于 0 的金额"))
    elif _more_decimals(unit_price, 4):
        errors.add(number, "unit_price", _("单价至多保留四位小数"))

    amount = _parse_decimal(raw_amount)
    if amount is None or amount <= 0:
        errors.add(number, "amount", _("金额应为大于 0 的金额"))
    elif _more_decimals(amount, 2):
        errors.add(number, "amount", _("金额至多保留两位小数"))
    elif (
        quantity
        and minutes
        and unit_price is not None
        and unit_price >= 0
        and not _more_decimals(unit_price, 4)
    ):
        expected = _expected_amount(quantity, minutes, unit_price)
        if _off_by_more_than_a_cent(amount, expected):
            errors.add(
                number,
                "amount",
                _("金额 %(amount)s 与 数量 × 时长 ÷ 60 × 单价 = %(expected)s 不符")
                % {"amount": amount, "expected": expected},
            )

    scenario_text = _text(raw_scenario)
    scenario = _scenario_key(scenario_text)
    if scenario not in SCENARIOS:
        errors.add(
            number,
            "scenario",
            _("使用场景“%(value)s”无效，应为：%(choices)s")
            % {"value": scenario_text, "choices": "、".join(str(v) for v in SCENARIOS.values())},
        )

    if len(errors.result.errors) != before or errors.result.truncated:
        return None
    assert started is not None and ended is not None and quantity is not None and minutes is not None
    assert unit_price is not None and amount is not None
    # The frozen value's fields set directly: its ``__init__`` sets each through
    # ``object.__setattr__``, a fifth of the time of a whole row.
    row = object.__new__(ParsedRow)
    row.__dict__.update(
        row_number=number,
        record_id=record_id,
        started_at=started,
        ended_at=ended,
        resource=resource,
        quantity=quantity,
        minutes=minutes,
        unit_price=unit_price,
        amount=round_half_up(amount),
        scenario=scenario,
    )
    return row


_ROW_FIELDS = tuple(f.name for f in fields(ParsedRow))


@dataclass
class _Columns:
    """A CSV's data rows checked column by column: each row's number and cells, its record id, the
    positions of the rows with a problem, and every row parsed (the faulty ones with stand-in values)."""

    numbers: Sequence[int]
    cells: Sequence[Sequence[str]]
    record_ids: list[str]
    faulty: set[int]
    parsed: list[ParsedRow]


def _flag(faulty: set[int], flags: Iterable[Any]) -> None:
    """Add the positions whose flag is true."""
    faulty.update(compress(count(), flags))


def _column(
    cells: Sequence[str],
    convert: Callable[[str], Any],
    good: Callable[[Any], bool],
    stand_in: _T,
    faulty: set[int],
) -> tuple[list[_T], dict[str, _T]]:
    """A column's cells converted once for each distinct text (units, models, prices repeat), the
    rows holding a text that is not ``good`` flagged; their value is ``stand_in``. Also the values by text."""
    values = {cell: convert(cell) for cell in set(cells)}
    wrong = {cell for cell, value in values.items() if not good(value)}
    if wrong:
        _flag(faulty, map(wrong.__contains__, cells))
        values.update(dict.fromkeys(wrong, stand_in))
    return list(map(values.__getitem__, cells)), values


def _datetime_column(cells: Sequence[str], now: dt.datetime, faulty: set[int]) -> list[dt.datetime]:
    """``_parse_datetime`` of each cell, the rows of a cell that is no time or a time after ``now``
    flagged (their value is ``now``). A column of ISO 8601 times without zone, the common case, is
    read and put in Beijing time at C speed."""
    try:
        naive = list(map(dt.datetime.fromisoformat, map(str.strip, cells)))
    except ValueError:
        moments = list(map(_parse_datetime, cells))
    else:
        if any(map(is_not, map(_TZINFO, naive), repeat(None))):
            moments = list(map(_parse_datetime, cells))
        else:
            days = map(dt.datetime.date, naive)
            clock = map(dt.datetime.time, naive)
            beijing = list(map(dt.datetime.combine, days, clock, repeat(BEIJING)))
            # Times of one zone, ``now``'s, compare field by field: the latest says whether any is late.
            if max(beijing) > now:
                _flag(faulty, map(gt, beijing, repeat(now)))
            return beijing
    if None in moments:
        _flag(faulty, map(is_, moments, repeat(None)))
        moments = [now if moment is None else moment for moment in moments]
    times = cast("list[dt.datetime]", moments)  # no None left
    _flag(faulty, map(gt, times, repeat(now)))
    return times


def _check_columns(
    block: list[list[str]],
    first: int,
    mapping: dict[str, int],
    seen: dict[str, int],
    existing: frozenset[str],
    now: dt.datetime,
) -> _Columns | None:
    """A block of a CSV's rows, the first of them row ``first``, checked column by column after the
    rows whose record ids are ``seen``; ``None`` where the columns cannot say it (a number beyond
    the decimal context). A row is flagged faulty exactly where ``_check_row`` finds a problem in
    it; the faulty rows are left to ``_check_row`` to name the problems."""
    try:
        return _columns(block, first, mapping, seen, existing, now)
    except (ArithmeticError, ValueError, TypeError):
        return None


def _columns(
    block: list[list[str]],
    first: int,
    mapping: dict[str, int],
    seen: dict[str, int],
    existing: frozenset[str],
    now: dt.datetime,
) -> _Columns:
    indexes = [mapping[c] for c in COLUMNS]
    last = max(indexes)
    faulty: set[int] = set()
    numbers: Sequence[int]
    rows: list[list[str]]
    cells: list[list[str]]
    if (
        block
        and min(map(len, block)) > last
        and all(map(str.strip, map(itemgetter(mapping["record_id"]), block)))
    ):
        numbers, rows, cells = range(first, first + len(block)), block, block  # no blank row, none too short
    else:
        numbers, rows, cells = [], [], []
        for number, row in enumerate(block, start=first):
            if _blank(row):
                continue
            numbers.append(number)
            cells.append(row)
            if len(row) <= last:  # a row that lacks a column's cell has a problem there
                faulty.add(len(rows))
                row = [*row, *repeat("", last + 1 - len(row))]
            rows.append(row)
    size = len(rows)
    if not size:
        return _Columns(numbers, cells, [], faulty, [])
    (
        raw_id,
        raw_started,
        raw_ended,
        raw_resource,
        raw_quantity,
        raw_minutes,
        raw_price,
        raw_amount,
        raw_scenario,
    ) = (list(map(itemgetter(index), rows)) for index in indexes)

    record_ids = list(map(str.strip, raw_id))  # _text of a CSV cell
    lengths = set(map(len, record_ids))
    if (
        min(lengths) < 1
        or max(lengths) > 64
        or len(set(record_ids)) < size
        or not existing.isdisjoint(record_ids)
        or not seen.keys().isdisjoint(record_ids)
    ):
        earliest: dict[str, int] = {}
        for position, record_id in enumerate(record_ids):  # the first row of an id holds it
            if (
                not record_id
                or len(record_id) > 64
                or record_id in existing
                or record_id in seen
                or earliest.setdefault(record_id, position) != position
            ):
                faulty.add(position)

    started = _datetime_column(raw_started, now, faulty)
    ended = _datetime_column(raw_ended, now, faulty)

    resources, _resources_by_text = _column(raw_resource, _text, lambda text: 0 < len(text) <= 64, "", faulty)
    quantities, _quantities_by_text = _column(raw_quantity, _parse_int, _at_least_one, 1, faulty)
    minutes, _minutes_by_text = _column(raw_minutes, _parse_int, _at_least_one, 1, faulty)
    prices, _prices_by_text = _column(raw_price, _parse_decimal, _price_good, Decimal(0), faulty)
    amounts, amount_values = _column(raw_amount, _parse_decimal, _amount_good, Decimal(1), faulty)
    # The checks across columns, once for each distinct set of terms (they repeat: the amount
    # follows from the others). The minutes a row's end is after its start are at most 0 where
    # it is not after it, which flags that row too.
    terms = zip(quantities, minutes, prices, amounts, map(sub, ended, started), strict=True)
    wrong = {key for key in set(terms) if _terms_disagree(*key)}
    if wrong:
        terms = zip(quantities, minutes, prices, amounts, map(sub, ended, started), strict=True)
        _flag(faulty, map(wrong.__contains__, terms))
    rounded = {text: round_half_up(value) for text, value in amount_values.items()}
    scenarios, _scenarios_by_text = _column(
        raw_scenario, _scenario_cell, SCENARIOS.__contains__, "other", faulty
    )

    columns = zip(
        numbers,
        record_ids,
        started,
        ended,
        resources,
        quantities,
        minutes,
        prices,
        map(rounded.__getitem__, raw_amount),
        scenarios,
        strict=True,
    )
    # As in _check_row, the frozen values' fields set directly, here for all rows at C speed.
    parsed = list(map(object.__new__, repeat(ParsedRow, size)))
    deque(map(dict.update, map(vars, parsed), map(zip, repeat(_ROW_FIELDS), columns)), maxlen=0)
    return _Columns(numbers, cells, record_ids, faulty, parsed)


def _terms_disagree(
    quantity: int, minutes: int, unit_price: Decimal, amount: Decimal, delta: dt.timedelta
) -> bool:
    """More minutes than between start and end, or an amount off the one the terms give."""
    return minutes > _span_minutes(delta) or _off_by_more_than_a_cent(
        amount, _expected_amount(quantity, minutes, unit_price)
    )


def _at_least_one(number: int | None) -> bool:
    return number is not None and number >= 1


def _price_good(price: Decimal | None) -> bool:
    return price is not None and price >= 0 and not _more_decimals(price, 4)


def _amount_good(amount: Decimal | None) -> bool:
    return amount is not None and amount > 0 and not _more_decimals(amount, 2)


def _scenario_cell(cell: str) -> str:
    return _scenario_key(_text(cell))


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


def _blank(cells: Sequence[Any]) -> bool:
    if isinstance(cells, tuple) and cells.count(None) == len(cells):
        return True  # the common case of padding rows, counted at C speed
    return not any(map(_text, cells))  # stops at the first cell of a data row


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector held off: a table read whole and checked by columns allocates
    objects that all live until its rows are parsed, so the collector's passes over them in the
    meantime would find nothing to free (they cost more than the checks themselves)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


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
    with _collector_paused():
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
    errors = _Collector(result)
    try:
        iterator = iter(_xlsx_rows(content) if mime == XLSX_MIME else _csv_rows(content))
        header = next(iterator, None)
        if header is None or _blank(header):
            errors.add(1, "", _("第 1 行应为表头（记录编号、开始时间、结束时间……），文件中没有表头"))
            return result
        mapping, missing = _map_header(header)
        if missing:
            errors.add(
                1,
                "",
                _("表头缺少以下列：%(columns)s（请使用平台提供的模板）")
                % {"columns": "、".join(str(HEADERS[c]) for c in missing)},
            )
            return result
        seen: dict[str, int] = {}
        pick = _picker(mapping)
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
            if _blank(cells):
                continue
            data_rows += 1
            if data_rows > MAX_ROWS:
                errors.add(number, "", _("明细超过 %(max)d 行，请拆分为多个文件上传") % {"max": MAX_ROWS})
                break
            parsed = _check_row(number, cells, pick, seen, existing, now, errors)
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
    errors: _Collector,
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
        columns = _check_columns(block, first, mapping, seen, existing, now)
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
    columns: _Columns,
    pick: Callable[[Sequence[Any]], Sequence[Any]],
    seen: dict[str, int],
    existing: frozenset[str],
    now: dt.datetime,
    errors: _Collector,
) -> None:
    """The rows of checked columns in order: a good row kept as parsed (its record id taken), a
    faulty one checked on its own, which names its problems."""
    result = errors.result
    for position, number in enumerate(columns.numbers):
        if position not in columns.faulty:
            seen[columns.record_ids[position]] = number
            result.rows.append(columns.parsed[position])
            continue
        parsed = _check_row(number, columns.cells[position], pick, seen, existing, now, errors)
        if parsed is not None:
            result.rows.append(parsed)
        if result.truncated:
            break


def _finish(result: ParseResult, errors: _Collector, keep_good_rows: bool) -> ParseResult:
    if not result.errors and not result.rows:
        errors.add(2, "", _("明细中没有数据行"))
    if result.errors and not keep_good_rows:
        result.rows = []
    return result
