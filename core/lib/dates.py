"""Dates and moments as a person reads them: ``2026年10月10日`` and ``2026年10月10日 08:00``, in Beijing
time. Django-free, for the pure rules' messages; pages, e-mails and exports reach the same functions
through :mod:`core.formats` and its template filters.

Machine formats (ISO 8601, ``2026-10-10T08:00:00+08:00``) stay in JSON, the API and the log;
they are never shown to people.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")


def chinese_date(value: dt.date) -> str:
    """``2026年10月10日``; a moment is taken on its Beijing date."""
    if isinstance(value, dt.datetime):
        value = to_beijing(value).date()
    return f"{value.year}年{value.month}月{value.day}日"


def chinese_datetime(value: dt.datetime, *, seconds: bool = False) -> str:
    """``2026年10月10日 08:00`` (``08:00:05`` with ``seconds``), in Beijing time."""
    local = to_beijing(value)
    clock = f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"
    return f"{chinese_date(local)} {clock}"


def to_beijing(value: dt.datetime) -> dt.datetime:
    """An aware moment in Beijing time; a naive one is taken as Beijing time already."""
    return value if value.tzinfo is None else value.astimezone(BEIJING)
