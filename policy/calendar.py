"""The working-day calendar of the platform and the deadlines of docs/deadlines.md.

:func:`get_calendar` combines ``chinesecalendar`` with the years an administrator loaded
(:class:`policy.models.HolidayYear`). The deadline functions take the policy parameters in force
(:func:`policy.loader.params_at`) so the numbers of working days stay policy data.

A year after the last official one is answered by the provisional calendar (暂定, see
:mod:`core.lib.workdays`); only a date before the first known year raises
:class:`core.lib.workdays.UnknownYearError`.

:func:`settle` is the one place that turns a deadline rule into a :class:`Deadline`: it marks the
date 暂定 when a provisional year decided it, and, for a deadline issued while a year now
official was still provisional, applies "doubt favours the enterprise" — an enterprise's own
deadline keeps the later of the two dates, the center's the earlier (policy parameters
``calendar.enterprise_keeps_later`` and ``calendar.center_keeps_earlier``).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from core.lib.workdays import UnknownYearError, WorkdayCalendar, YearSchedule, chinesecalendar_years
from policy.loader import PolicyParams

__all__ = [
    "CENTER",
    "ENTERPRISE",
    "CalendarState",
    "Deadline",
    "HolidayYearData",
    "UnknownYearError",
    "apply_deadline",
    "apply_due",
    "cycle_due",
    "objection_due",
    "rating_follow_up_due",
    "payment_due",
    "review_due",
    "clear_calendar_cache",
    "cycle_deadline",
    "cycle_workdays_used",
    "get_calendar",
    "get_state",
    "next_year_warning",
    "objection_deadline",
    "parse_holiday_year",
    "provisional_reason",
    "paused_workdays",
    "payment_deadline",
    "review_deadline",
    "settle",
    "workdays_left",
]

Pause = tuple[dt.date, dt.date | None]

ENTERPRISE: Final = "enterprise"
CENTER: Final = "center"
Party = Literal["enterprise", "center"]


@dataclass(eq=False)
class CalendarState:
    """The calendar now, and the day each loaded year was loaded on (Asia/Shanghai).

    :meth:`shown_on` answers what the platform showed on an earlier day: the years loaded after
    it were then provisional (or ``chinesecalendar``'s, for a correction of a shipped year).
    """

    calendar: WorkdayCalendar
    loaded_on: Mapping[int, dt.date]
    _shown: dict[frozenset[int], WorkdayCalendar] = field(default_factory=dict, repr=False)

    def shown_on(self, day: dt.date) -> WorkdayCalendar:
        later = frozenset(year for year, loaded in self.loaded_on.items() if loaded > day)
        if not later:
            return self.calendar
        found = self._shown.get(later)
        if found is None:
            found = self._shown[later] = self.calendar.without_years(later)
        return found

    def with_year(self, schedule: YearSchedule, *, loaded_on: dt.date) -> CalendarState:
        """The state once ``schedule`` is loaded on ``loaded_on`` (a preview)."""
        return CalendarState(
            self.calendar.with_year(schedule), {**self.loaded_on, schedule.year: loaded_on}
        )


_lock = threading.Lock()
_cached: tuple[tuple[tuple[int, dt.datetime], ...], CalendarState] | None = None


def _stamp() -> tuple[tuple[int, dt.datetime], ...]:
    from policy.models import HolidayYear

    return tuple(HolidayYear.objects.order_by("year").values_list("year", "loaded_at"))


def get_state() -> CalendarState:
    """The calendar state: ``chinesecalendar`` plus the loaded years, which take precedence.

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

    rows = list(HolidayYear.objects.all())
    loaded = {row.year: row.schedule() for row in rows}
    state = CalendarState(
        WorkdayCalendar(loaded), {row.year: timezone.localdate(row.loaded_at) for row in rows}
    )
    with _lock:
        _cached = (stamp, state)
    return state


def get_calendar() -> WorkdayCalendar:
    """The calendar now (see :func:`get_state`)."""
    return get_state().calendar


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


# --- provisional dates -----------------------------------------------------------------------------


def provisional_reason(years: Iterable[int]) -> str:
    """Why a date is 暂定, naming the years without an official schedule."""
    names = "、".join(str(year) for year in sorted(set(years)))
    if not names:
        return ""
    return _("%(years)s年国务院节假日安排尚未公布，暂按法定节假日推算（未计调休）") % {"years": names}


@dataclass(frozen=True)
class Deadline:
    """A deadline and whether a provisional year decided it (暂定)."""

    date: dt.date
    provisional_years: tuple[int, ...] = ()

    @property
    def provisional(self) -> bool:
        return bool(self.provisional_years)

    @property
    def reason(self) -> str:
        return provisional_reason(self.provisional_years)

    def as_json(self) -> dict[str, Any]:
        return {"date": self.date.isoformat(), "provisional": self.provisional, "reason": self.reason}


def keeps_later(params: PolicyParams | None) -> bool:
    """Policy: an enterprise's deadline issued under a provisional year keeps the later date."""
    return bool(params.extra.get("calendar.enterprise_keeps_later", True)) if params else True


def keeps_earlier(params: PolicyParams | None) -> bool:
    """Policy: the center's deadlines and staff reminders keep the earlier date."""
    return bool(params.extra.get("calendar.center_keeps_earlier", True)) if params else True


def settle(
    compute: Callable[[WorkdayCalendar], dt.date],
    *,
    issued_on: dt.date,
    party: Party,
    params: PolicyParams | None,
    state: CalendarState | None = None,
) -> Deadline:
    """The deadline that ``compute`` gives on the calendar, for a deadline first shown on ``issued_on``.

    Where a year has been loaded since ``issued_on``, the date shown then (on the provisional
    calendar) and the official date can differ: an enterprise's deadline takes the later, the
    center's the earlier, as the policy parameters say. Nobody who acted by a date the platform
    showed is late; the center never gains time from doubt.
    """
    state = state or get_state()
    official = compute(state.calendar)
    shown_calendar = state.shown_on(issued_on)
    result = official
    if shown_calendar is not state.calendar:
        shown = compute(shown_calendar)
        if party == ENTERPRISE and keeps_later(params):
            result = max(official, shown)
        elif party == CENTER and keeps_earlier(params):
            result = min(official, shown)
    return Deadline(result, state.calendar.provisional_years(issued_on, result))


def apply_due(launch_date: dt.date, params: PolicyParams, *, state: CalendarState | None = None) -> Deadline:
    """The enterprise's apply deadline, settled (暂定 mark; the later date after a load)."""
    return settle(
        lambda cal: apply_deadline(launch_date, params, calendar=cal),
        issued_on=launch_date,
        party=ENTERPRISE,
        params=params,
        state=state,
    )


def objection_due(notice_date: dt.date, params: PolicyParams, *, state: CalendarState | None = None) -> Deadline:
    """The enterprise's objection deadline, settled (暂定 mark; the later date after a load)."""
    return settle(
        lambda cal: objection_deadline(notice_date, params, calendar=cal),
        issued_on=notice_date,
        party=ENTERPRISE,
        params=params,
        state=state,
    )


def supplement_due(notice_date: dt.date, params: PolicyParams, *, state: CalendarState | None = None) -> Deadline:
    """The enterprise's last day to answer a supplement notice: the Nth working day after it
    (``deadline.supplement_workdays``); settled as an enterprise deadline (the later date)."""
    workdays = int(params.get("deadline.supplement_workdays"))
    return settle(
        lambda cal: cal.add_workdays(notice_date, workdays),
        issued_on=notice_date,
        party=ENTERPRISE,
        params=params,
        state=state,
    )


def repayment_due(decided_on: dt.date, params: PolicyParams, *, state: CalendarState | None = None) -> Deadline:
    """The enterprise's last day to repay a clawed-back subsidy: the Nth working day after the
    decision (``deadline.repayment_workdays``); settled as an enterprise deadline (the later date)."""
    workdays = int(params.get("deadline.repayment_workdays"))
    return settle(
        lambda cal: cal.add_workdays(decided_on, workdays),
        issued_on=decided_on,
        party=ENTERPRISE,
        params=params,
        state=state,
    )


def rating_follow_up_due(
    opened_on: dt.date, params: PolicyParams, *, state: CalendarState | None = None
) -> Deadline:
    """The center's answer to a poor rating (差评整改回访) is due the Nth working day after it was
    given (``deadline.rating_follow_up_workdays``); settled as a center deadline (the earlier date)."""
    workdays = int(params.get("deadline.rating_follow_up_workdays"))
    return settle(
        lambda cal: cal.add_workdays(opened_on, workdays),
        issued_on=opened_on,
        party=CENTER,
        params=params,
        state=state,
    )


def review_due(
    received: dt.date,
    pauses: Sequence[Pause],
    params: PolicyParams,
    *,
    today: dt.date | None = None,
    state: CalendarState | None = None,
) -> Deadline:
    """The center's review deadline, settled (暂定 mark; the earlier date after a load)."""
    return settle(
        lambda cal: review_deadline(received, pauses, params, today=today, calendar=cal),
        issued_on=received,
        party=CENTER,
        params=params,
        state=state,
    )


def payment_due(
    final_approval_date: dt.date, params: PolicyParams, *, state: CalendarState | None = None
) -> Deadline:
    """The center's payment deadline, settled (暂定 mark; the earlier date after a load)."""
    return settle(
        lambda cal: payment_deadline(final_approval_date, params, calendar=cal),
        issued_on=final_approval_date,
        party=CENTER,
        params=params,
        state=state,
    )


def cycle_due(
    received: dt.date,
    pauses: Sequence[Pause],
    params: PolicyParams,
    *,
    today: dt.date | None = None,
    state: CalendarState | None = None,
) -> Deadline:
    """The center's whole-cycle deadline, settled (暂定 mark; the earlier date after a load)."""
    return settle(
        lambda cal: cycle_deadline(received, pauses, params, today=today, calendar=cal),
        issued_on=received,
        party=CENTER,
        params=params,
        state=state,
    )


WARN_FROM_MONTH = 11  # the State Council publishes next year's schedule around November


def next_year_warning(today: dt.date, calendar: WorkdayCalendar | None = None) -> str:
    """From 1 November, while next year has no official schedule: say so (else ``""``)."""
    if today.month < WARN_FROM_MONTH:
        return ""
    year = today.year + 1
    if _cal(calendar).is_official(year):
        return ""
    return _(
        "%(year)s年节假日安排尚未正式载入：跨入%(year)s年的期限暂按法定节假日推算，标为“暂定”。"
        "国务院办公厅通知发布后，请在“节假日安排”页录入并确认。"
    ) % {"year": year}


# --- deadlines (docs/deadlines.md) -------------------------------------------------------------------------


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
    (docs/deadlines.md); a pause not yet answered (end ``None``) runs to ``today``. With ``after``/``until``
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


# --- loading a year (docs/deadlines.md file format) ----------------------------------------------------------


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
    """Validate a schedule in the docs/deadlines.md format; every problem is reported at once, in Chinese,
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
