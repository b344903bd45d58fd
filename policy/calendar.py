"""The working-day calendar of the platform and the deadlines of SPEC §3.

:func:`get_calendar` combines ``chinesecalendar`` with the years an administrator loaded
(:class:`policy.models.HolidayYear`). The deadline functions take the policy parameters in force
(:func:`policy.loader.params_at`) so the numbers of working days stay policy data.

Every function raises :class:`yingdu.lib.workdays.UnknownYearError` (message
"2027年节假日安排尚未载入") when a date falls in a year without a schedule: a deadline is never
guessed.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from policy.loader import PolicyParams
from yingdu.lib.workdays import UnknownYearError, WorkdayCalendar, YearSchedule, chinesecalendar_years

__all__ = [
    "HolidayYearData",
    "UnknownYearError",
    "apply_deadline",
    "clear_calendar_cache",
    "cycle_deadline",
    "cycle_workdays_used",
    "get_calendar",
    "objection_deadline",
    "parse_holiday_year",
    "paused_workdays",
    "payment_deadline",
    "review_deadline",
    "workdays_left",
]

Pause = tuple[dt.date, dt.date | None]

_lock = threading.Lock()
_cached: tuple[tuple[tuple[int, dt.datetime], ...], WorkdayCalendar] | None = None


def _stamp() -> tuple[tuple[int, dt.datetime], ...]:
    from policy.models import HolidayYear

    return tuple(HolidayYear.objects.order_by("year").values_list("year", "loaded_at"))


def get_calendar() -> WorkdayCalendar:
    """The calendar: ``chinesecalendar`` plus the loaded years, which take precedence.

    Built once per process and rebuilt when the loaded years change. Whether they changed is
    checked with one small query (years and load times), so a year loaded by another process
    or rolled back with a test transaction is never served stale.
    """
    global _cached
    stamp = _stamp()
    with _lock:
        if _cached is not None and _cached[0] == stamp:
            return _cached[1]
    from policy.models import HolidayYear

    loaded = {
        row.year: YearSchedule(
            row.year, frozenset(row.holiday_dates()), frozenset(row.workday_dates()), source=row.source
        )
        for row in HolidayYear.objects.all()
    }
    calendar = WorkdayCalendar(loaded)
    with _lock:
        _cached = (stamp, calendar)
    return calendar


def clear_calendar_cache() -> None:
    """Forget the built calendar (called when a year is loaded)."""
    global _cached
    with _lock:
        _cached = None


def builtin_years() -> range:
    """The years the installed ``chinesecalendar`` covers."""
    return chinesecalendar_years()


def _cal(calendar: WorkdayCalendar | None) -> WorkdayCalendar:
    return calendar if calendar is not None else get_calendar()


# --- deadlines (SPEC §3) -------------------------------------------------------------------------


def apply_deadline(
    launch_date: dt.date, params: PolicyParams, *, calendar: WorkdayCalendar | None = None
) -> dt.date:
    """Last day to submit: the 30th working day after the launch (四（三）); that day is in time."""
    return _cal(calendar).add_workdays(launch_date, params.apply_workdays_after_launch)


def _merged(pauses: Iterable[Pause], today: dt.date | None) -> list[tuple[dt.date, dt.date]]:
    """Pauses as closed (start, end) pairs, an open pause ending today, overlaps merged so that
    no working day is counted twice."""
    spans = []
    for start, end in pauses:
        stop = end if end is not None else (today or timezone.localdate())
        if stop > start:
            spans.append((start, stop))
    spans.sort()
    merged: list[tuple[dt.date, dt.date]] = []
    for start, stop in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], stop))
        else:
            merged.append((start, stop))
    return merged


def paused_workdays(
    pauses: Iterable[Pause],
    *,
    after: dt.date | None = None,
    until: dt.date | None = None,
    today: dt.date | None = None,
    calendar: WorkdayCalendar | None = None,
) -> int:
    """Working days spent waiting for the applicant's supplement (补充材料时间).

    Each pause runs from the supplement notice day, exclusive, to the resubmission day, inclusive
    (SPEC §3); a pause not yet answered (end ``None``) runs to ``today``. With ``after``/``until``
    only the part of the pauses inside (after, until] counts.
    """
    cal = _cal(calendar)
    total = 0
    for start, stop in _merged(pauses, today):
        if after is not None:
            start = max(start, after)
        if until is not None:
            stop = min(stop, until)
        if stop > start:
            total += cal.workdays_between(start, stop)
    return total


def review_deadline(
    received: dt.date,
    pauses: Sequence[Pause],
    params: PolicyParams,
    *,
    today: dt.date | None = None,
    calendar: WorkdayCalendar | None = None,
) -> dt.date:
    """Review complete by the 10th working day after receipt (四（四）1), extended by exactly the
    working days spent waiting for a supplement."""
    cal = _cal(calendar)
    extra = paused_workdays(pauses, after=received, today=today, calendar=cal)
    return cal.add_workdays(received, params.review_workdays + extra)


def payment_deadline(
    final_approval_date: dt.date, params: PolicyParams, *, calendar: WorkdayCalendar | None = None
) -> dt.date:
    """Pay by the 20th working day after final approval (四（四）2)."""
    return _cal(calendar).add_workdays(final_approval_date, params.payment_workdays_after_approval)


def cycle_workdays_used(
    received: dt.date,
    until: dt.date,
    pauses: Sequence[Pause],
    *,
    calendar: WorkdayCalendar | None = None,
) -> int:
    """Working days of the cycle received → ``until`` (paid, or today), supplement time excluded
    (四（四）3: 企业补充材料的时间不计入兑现周期)."""
    cal = _cal(calendar)
    used = cal.workdays_between(received, until)
    return used - paused_workdays(pauses, after=received, until=until, today=until, calendar=cal)


def cycle_deadline(
    received: dt.date,
    pauses: Sequence[Pause],
    params: PolicyParams,
    *,
    today: dt.date | None = None,
    calendar: WorkdayCalendar | None = None,
) -> dt.date:
    """Last day of the whole cycle: 30 working days after receipt plus supplement time."""
    cal = _cal(calendar)
    extra = paused_workdays(pauses, after=received, today=today, calendar=cal)
    return cal.add_workdays(received, params.total_cycle_workdays + extra)


def objection_deadline(
    notice_date: dt.date, params: PolicyParams, *, calendar: WorkdayCalendar | None = None
) -> dt.date:
    """Objection by the 5th working day after the data notice (五 3)."""
    return _cal(calendar).add_workdays(notice_date, params.objection_workdays)


def workdays_left(deadline: dt.date, today: dt.date, *, calendar: WorkdayCalendar | None = None) -> int:
    """Working days from ``today`` to ``deadline``: 0 on the deadline day, negative when overdue
    (−1 on the first working day after it)."""
    return _cal(calendar).workdays_between(today, deadline)


# --- loading a year (SPEC §3 file format) ----------------------------------------------------------


@dataclass(frozen=True)
class HolidayYearData:
    """A validated schedule file."""

    year: int
    source: str
    holidays: tuple[dt.date, ...]
    workdays: tuple[dt.date, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "source": self.source,
            "holidays": [d.isoformat() for d in self.holidays],
            "workdays": [d.isoformat() for d in self.workdays],
        }


def _parse_dates(value: Any, field: str, errors: list[str]) -> list[dt.date]:
    label = _("放假日期") if field == "holidays" else _("调休上班日期")
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        errors.append(_("%(field)s应为日期列表") % {"field": label})
        return []
    dates = []
    for item in value:
        if isinstance(item, dt.date) and not isinstance(item, dt.datetime):
            dates.append(item)
            continue
        try:
            dates.append(dt.date.fromisoformat(str(item).strip()))
        except ValueError:
            errors.append(
                _("%(field)s中的“%(value)s”不是有效日期（应为 YYYY-MM-DD）") % {"field": label, "value": item}
            )
    return dates


def parse_holiday_year(data: Mapping[str, Any]) -> HolidayYearData:
    """Validate a schedule in the SPEC §3 format; every problem is reported at once, in Chinese,
    naming the offending date. Raises ``ValidationError``."""
    if not isinstance(data, Mapping):
        raise ValidationError(_("文件内容应包含 year、source、holidays、workdays 四项"))
    errors: list[str] = []
    year = data.get("year")
    if isinstance(year, str) and year.strip().isdigit():
        year = int(year.strip())
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
        errors.append(_("年份“%(year)s”无效，应为 2000–2100 之间的整数") % {"year": year})
        year = None
    source = str(data.get("source") or "").strip()
    if not source:
        errors.append(
            _("缺少依据文件（source），如“国务院办公厅关于%(year)s年部分节假日安排的通知”")
            % {"year": year or "XXXX"}
        )
    elif len(source) > 300:
        errors.append(_("依据文件名称过长（不超过 300 个字符）"))
    errors_before = len(errors)
    holidays = _parse_dates(data.get("holidays"), "holidays", errors)
    holidays_malformed = len(errors) > errors_before
    workdays = _parse_dates(data.get("workdays"), "workdays", errors)
    if year is not None:
        for d in holidays:
            if d.year != year:
                errors.append(
                    _("放假日期 %(date)s 不在 %(year)s 年内") % {"date": d.isoformat(), "year": year}
                )
        for d in workdays:
            if d.year != year:
                errors.append(
                    _("调休上班日期 %(date)s 不在 %(year)s 年内") % {"date": d.isoformat(), "year": year}
                )
    if not holidays and not holidays_malformed:  # every year has statutory holidays (元旦 at least)
        errors.append(_("放假日期列表为空"))
    for d in sorted(set(holidays) & set(workdays)):
        errors.append(_("%(date)s 同时列为放假日期和调休上班日期") % {"date": d.isoformat()})
    for d in sorted(set(workdays)):
        if d.weekday() < 5:
            errors.append(_("调休上班日期 %(date)s 不是周末，本来就是工作日") % {"date": d.isoformat()})
    if errors:
        raise ValidationError(errors)
    assert year is not None
    return HolidayYearData(
        year=year,
        source=source,
        holidays=tuple(sorted(set(holidays))),
        workdays=tuple(sorted(set(workdays))),
    )
