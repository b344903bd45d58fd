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
(``applications.consumption_file``), with the same errors and rows as the row-by-row check of a workbook.

This is the earlier, GPU-only layout, still accepted; the platform's template is now the usage-line
layout of ``applications.vendor_formats.template``. Its rows become usage lines (card-seconds, paid =
amount) and row 23 must equal the base computed from them (docs/usage-formats.md); the detail need
not add up to row 22.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from operator import attrgetter, itemgetter
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.lib.money import round_half_up

BEIJING = ZoneInfo("Asia/Shanghai")
_T = TypeVar("_T")
TZINFO = attrgetter("tzinfo")
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


class Collector:
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


def map_header(cells: Sequence[Any]) -> tuple[dict[str, int], list[str]]:
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


def parse_datetime(value: Any) -> dt.datetime | None:
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


def parse_decimal(value: Any) -> Decimal | None:
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


def parse_int(value: Any) -> int | None:
    if type(value) is str:
        try:
            return int(value)  # digits only (white space and one sign allowed), as Decimal reads them
        except ValueError:
            pass
    number = parse_decimal(value)
    if number is None or number != number.to_integral_value():
        return None
    return int(number)


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def more_decimals(value: Decimal, places: int) -> bool:
    """Whether ``value`` has more than ``places`` decimals (trailing zeros do not count)."""
    exponent = value.as_tuple().exponent
    if type(exponent) is int and exponent >= -places:
        return False  # no more digits written than allowed: none more after normalising
    return _decimals(value) > places


def cell_text(value: Any) -> str:
    if type(value) is str:
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


_CENT = Decimal("0.01")
_SIXTY = Decimal(60)


def expected_amount(quantity: int, minutes: int, unit_price: Decimal) -> Decimal:
    """Cards × minutes ÷ 60 × the price per card-hour, rounded half up to the cent."""
    return round_half_up(Decimal(quantity) * Decimal(minutes) * unit_price / _SIXTY)


def off_by_more_than_a_cent(amount: Decimal, expected: Decimal) -> bool:
    return abs(expected - amount) > _CENT


def span_minutes(delta: dt.timedelta) -> int:
    """The minutes between a start and an end ``delta`` after it, a started minute counted whole."""
    return math.ceil(delta.total_seconds() / 60)


def scenario_key(text: str) -> str:
    """The scenario's key for a cell's text (a key, its Chinese name, in any case); unknown text stays."""
    return SCENARIO_ALIASES.get(text, text.lower())


def picker(mapping: dict[str, int]) -> Callable[[Sequence[Any]], Sequence[Any]]:
    """A row's cells in the order of ``COLUMNS`` (``None`` for a cell the row lacks), for a header's mapping."""
    indexes = [mapping[c] for c in COLUMNS]
    whole = itemgetter(*indexes)
    last = max(indexes)

    def pick(cells: Sequence[Any]) -> Sequence[Any]:
        if last < len(cells):
            return whole(cells)  # type: ignore[no-any-return]
        return [cells[i] if i < len(cells) else None for i in indexes]

    return pick


def check_row(
    number: int,
    cells: Sequence[Any],
    pick: Callable[[Sequence[Any]], Sequence[Any]],
    seen: dict[str, int],
    existing_ids: frozenset[str],
    now: dt.datetime,
    errors: Collector,
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

    record_id = cell_text(raw_id)
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

    started = parse_datetime(raw_started)
    ended = parse_datetime(raw_ended)
    for column, value, raw in (("started_at", started, raw_started), ("ended_at", ended, raw_ended)):
        if value is None:
            if cell_text(raw):
                errors.add(
                    number,
                    column,
                    _("“%(value)s”不是有效的时间，格式如 2026-03-01 08:00") % {"value": cell_text(raw)},
                )
            else:
                errors.add(number, column, _("%(column)s不能为空") % {"column": HEADERS[column]})
        elif value > now:
            errors.add(number, column, _("%(column)s不能晚于当前时间") % {"column": HEADERS[column]})
    if started is not None and ended is not None and ended <= started:
        errors.add(number, "ended_at", _("结束时间应晚于开始时间"))

    resource = cell_text(raw_resource)
    if not resource:
        errors.add(number, "resource", _("算力资源不能为空（如 H200）"))
    elif len(resource) > 64:
        errors.add(number, "resource", _("算力资源不能超过 64 个字符"))

    quantity = parse_int(raw_quantity)
    if quantity is None or quantity < 1:
        errors.add(number, "quantity", _("数量（卡）应为不小于 1 的整数"))

    minutes = parse_int(raw_minutes)
    if minutes is None or minutes < 1:
        errors.add(number, "minutes", _("时长（分钟）应为不小于 1 的整数"))
    elif started is not None and ended is not None and ended > started:
        span = span_minutes(ended - started)
        if minutes > span:
            errors.add(
                number,
                "minutes",
                _("时长 %(minutes)d 分钟超过了起止时间之间的 %(span)d 分钟")
                % {"minutes": minutes, "span": span},
            )

    unit_price = parse_decimal(raw_price)
    if unit_price is None or unit_price < 0:
        errors.add(number, "unit_price", _("单价应为不小于 0 的金额"))
    elif more_decimals(unit_price, 4):
        errors.add(number, "unit_price", _("单价至多保留四位小数"))

    amount = parse_decimal(raw_amount)
    if amount is None or amount <= 0:
        errors.add(number, "amount", _("金额应为大于 0 的金额"))
    elif more_decimals(amount, 2):
        errors.add(number, "amount", _("金额至多保留两位小数"))
    elif (
        quantity
        and minutes
        and unit_price is not None
        and unit_price >= 0
        and not more_decimals(unit_price, 4)
    ):
        expected = expected_amount(quantity, minutes, unit_price)
        if off_by_more_than_a_cent(amount, expected):
            errors.add(
                number,
                "amount",
                _("金额 %(amount)s 与 数量 × 时长 ÷ 60 × 单价 = %(expected)s 不符")
                % {"amount": amount, "expected": expected},
            )

    scenario_text = cell_text(raw_scenario)
    scenario = scenario_key(scenario_text)
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


def blank_row(cells: Sequence[Any]) -> bool:
    if isinstance(cells, tuple) and cells.count(None) == len(cells):
        return True  # the common case of padding rows, counted at C speed
    return not any(map(cell_text, cells))  # stops at the first cell of a data row
