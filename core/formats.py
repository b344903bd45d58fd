"""How a person reads an amount, a date and a moment: one function each, for pages, e-mails and exports.

* money: thousands separators and two decimals (``9,750.00``), exact (``Decimal``) and
  locale-independent — zh-hans groups no digits, so Django's ``intcomma`` would differ from the
  exported workbooks;
* dates and times in the Chinese form (:mod:`core.lib.dates`), Beijing time (``2026年10月10日 08:00``), never ISO
  (``2026-10-10T08:00:00+08:00``).

The templates use them as the ``money``, ``cn_date`` and ``cn_datetime`` filters
(``core/templatetags/yingdu_format.py``); Python code that writes text for people calls them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from core.lib.dates import chinese_date, chinese_datetime
from core.lib.money import display_money

EMPTY = "—"


def money_text(value: Any) -> str:
    """``9750`` → ``9,750.00``; nothing → ``—``; text that is no number is shown as it is."""
    if value is None or value == "":
        return EMPTY
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    return display_money(amount)


def date_text(value: Any) -> str:
    """A date (or the Beijing date of a moment) as ``2026年10月10日``; an ISO string is parsed first."""
    value = _parse(value)
    if not isinstance(value, dt.date):
        return EMPTY if value in (None, "") else str(value)
    return chinese_date(value)


def datetime_text(value: Any, *, seconds: bool = False) -> str:
    """A moment in Beijing time as ``2026年10月10日 08:00`` (``08:00:05`` with ``seconds``)."""
    value = _parse(value)
    if not isinstance(value, dt.datetime):
        return date_text(value)
    return chinese_datetime(value, seconds=seconds)


def _parse(value: Any) -> Any:
    """An ISO date or moment held as text (JSON details of the log, the reconciliation's window)."""
    if not isinstance(value, str) or len(value) < 10 or not value[:4].isdigit():
        return value
    try:
        if len(value) == 10:
            return dt.date.fromisoformat(value)
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return value
