"""The consumption detail's rows checked a column at a time (``applications.consumption`` holds the
rules and the row-by-row check that names a faulty row's problems)."""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from itertools import compress, count, repeat
from operator import gt, is_, is_not, itemgetter, sub
from typing import Any, TypeVar, cast

from applications.consumption import (
    BEIJING,
    COLUMNS,
    SCENARIOS,
    TZINFO,
    ParsedRow,
    blank_row,
    cell_text,
    expected_amount,
    more_decimals,
    off_by_more_than_a_cent,
    parse_datetime,
    parse_decimal,
    parse_int,
    scenario_key,
    span_minutes,
)
from core.lib.money import round_half_up

_ROW_FIELDS = tuple(f.name for f in fields(ParsedRow))

_T = TypeVar("_T")


@dataclass
class Columns:
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
    """``parse_datetime`` of each cell, the rows of a cell that is no time or a time after ``now``
    flagged (their value is ``now``). A column of ISO 8601 times without zone, the common case, is
    read and put in Beijing time at C speed."""
    try:
        naive = list(map(dt.datetime.fromisoformat, map(str.strip, cells)))
    except ValueError:
        moments = list(map(parse_datetime, cells))
    else:
        if any(map(is_not, map(TZINFO, naive), repeat(None))):
            moments = list(map(parse_datetime, cells))
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


def check_columns(
    block: list[list[str]],
    first: int,
    mapping: dict[str, int],
    seen: dict[str, int],
    existing: frozenset[str],
    now: dt.datetime,
) -> Columns | None:
    """A block of a CSV's rows, the first of them row ``first``, checked column by column after the
    rows whose record ids are ``seen``; ``None`` where the columns cannot say it (a number beyond
    the decimal context). A row is flagged faulty exactly where ``check_row`` finds a problem in
    it; the faulty rows are left to ``check_row`` to name the problems."""
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
) -> Columns:
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
            if blank_row(row):
                continue
            numbers.append(number)
            cells.append(row)
            if len(row) <= last:  # a row that lacks a column's cell has a problem there
                faulty.add(len(rows))
                row = [*row, *repeat("", last + 1 - len(row))]
            rows.append(row)
    size = len(rows)
    if not size:
        return Columns(numbers, cells, [], faulty, [])
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

    record_ids = list(map(str.strip, raw_id))  # cell_text of a CSV cell
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

    resources, _resources_by_text = _column(
        raw_resource, cell_text, lambda text: 0 < len(text) <= 64, "", faulty
    )
    quantities, _quantities_by_text = _column(raw_quantity, parse_int, _at_least_one, 1, faulty)
    minutes, _minutes_by_text = _column(raw_minutes, parse_int, _at_least_one, 1, faulty)
    prices, _prices_by_text = _column(raw_price, parse_decimal, _price_good, Decimal(0), faulty)
    amounts, amount_values = _column(raw_amount, parse_decimal, _amount_good, Decimal(1), faulty)
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
    return Columns(numbers, cells, record_ids, faulty, parsed)


def _terms_disagree(
    quantity: int, minutes: int, unit_price: Decimal, amount: Decimal, delta: dt.timedelta
) -> bool:
    """More minutes than between start and end, or an amount off the one the terms give."""
    return minutes > span_minutes(delta) or off_by_more_than_a_cent(
        amount, expected_amount(quantity, minutes, unit_price)
    )


def _at_least_one(number: int | None) -> bool:
    return number is not None and number >= 1


def _price_good(price: Decimal | None) -> bool:
    return price is not None and price >= 0 and not more_decimals(price, 4)


def _amount_good(amount: Decimal | None) -> bool:
    return amount is not None and amount > 0 and not more_decimals(amount, 2)


def _scenario_cell(cell: str) -> str:
    return scenario_key(cell_text(cell))
