"""The Chinese working-day calendar (工作日), without Django.

A working day is a day that is not a statutory holiday, counting the weekend make-up working
days (调休上班) as working days (SPEC §3). The State Council publishes each year's schedule
around November, so the calendar has two sources:

* the ``chinesecalendar`` package, for the years it ships;
* schedules loaded by an administrator (``yingdu calendar load``), which take precedence, so a
  correction or a year the package does not know yet can be loaded without a release.

A date in a year that neither source knows raises :class:`UnknownYearError`: a deadline is
never guessed from weekends alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache

ONE_DAY = dt.timedelta(days=1)


class UnknownYearError(LookupError):
    """No holiday schedule is known for ``year``."""

    def __init__(self, year: int) -> None:
        self.year = year
        # User-facing; this module is Django-free, so the text is not wrapped in gettext here.
        super().__init__(f"{year}年节假日安排尚未载入")


@dataclass(frozen=True)
class YearSchedule:
    """One year's schedule: days off on weekdays (and holiday weekends) and weekend working days."""

    year: int
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]
    source: str = ""

    def is_workday(self, d: dt.date) -> bool:
        if d in self.workdays:
            return True
        return d.weekday() < 5 and d not in self.holidays

    @property
    def workday_count(self) -> int:
        return _cumulative(self)[-1]


@lru_cache(maxsize=256)
def _cumulative(schedule: YearSchedule) -> tuple[int, ...]:
    """Working days of the year up to and including each day (index = day of year - 1)."""
    counts = []
    running = 0
    day = dt.date(schedule.year, 1, 1)
    while day.year == schedule.year:
        running += schedule.is_workday(day)
        counts.append(running)
        day += ONE_DAY
    return tuple(counts)


def _as_date(value: dt.date) -> dt.date:
    # A datetime is a date subclass; comparing it with dates in sets would silently fail.
    if isinstance(value, dt.datetime):
        raise TypeError(f"expected a date, got a datetime: {value!r}")
    if not isinstance(value, dt.date):
        raise TypeError(f"expected a date, got {value!r}")
    return value


@cache
def chinesecalendar_years() -> range:
    """The years the installed ``chinesecalendar`` package has schedules for."""
    from chinese_calendar import constants

    years = [d.year for d in constants.holidays]
    return range(min(years), max(years) + 1)


@cache
def chinesecalendar_schedule(year: int) -> YearSchedule | None:
    """The ``chinesecalendar`` schedule of ``year``, or ``None`` when the package lacks it."""
    if year not in chinesecalendar_years():
        return None
    from chinese_calendar import constants

    return YearSchedule(
        year=year,
        holidays=frozenset(d for d in constants.holidays if d.year == year),
        workdays=frozenset(d for d in constants.workdays if d.year == year),
        source="chinesecalendar",
    )


class WorkdayCalendar:
    """Working-day arithmetic over known year schedules.

    ``loaded`` maps a year to ``(holidays, workdays)`` or to a :class:`YearSchedule`; those years
    override ``chinesecalendar``. Pass ``use_chinesecalendar=False`` to use only ``loaded``.
    """

    def __init__(
        self,
        loaded: Mapping[int, YearSchedule | tuple[Iterable[dt.date], Iterable[dt.date]]] | None = None,
        *,
        use_chinesecalendar: bool = True,
    ) -> None:
        self._loaded: dict[int, YearSchedule] = {}
        for year, value in (loaded or {}).items():
            if isinstance(value, YearSchedule):
                schedule = value
            else:
                holidays, workdays = value
                schedule = YearSchedule(year, frozenset(holidays), frozenset(workdays), source="loaded")
            if schedule.year != year:
                raise ValueError(f"schedule for {schedule.year} filed under year {year}")
            self._loaded[year] = schedule
        self._use_chinesecalendar = use_chinesecalendar

    def schedule(self, year: int) -> YearSchedule:
        """The schedule of ``year``; :class:`UnknownYearError` when no source has it."""
        found = self._loaded.get(year)
        if found is None and self._use_chinesecalendar:
            found = chinesecalendar_schedule(year)
        if found is None:
            raise UnknownYearError(year)
        return found

    def knows_year(self, year: int) -> bool:
        try:
            self.schedule(year)
        except UnknownYearError:
            return False
        return True

    @property
    def loaded_years(self) -> list[int]:
        return sorted(self._loaded)

    def is_workday(self, d: dt.date) -> bool:
        d = _as_date(d)
        return self.schedule(d.year).is_workday(d)

    def add_workdays(self, d: dt.date, n: int) -> dt.date:
        """The ``n``-th working day strictly after ``d`` (``d`` itself when ``n`` is 0).

        ``d`` need not be a working day: a launch on a Saturday counts from the next working day.
        """
        d = _as_date(d)
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        day = d
        remaining = n
        while remaining:
            day += ONE_DAY
            if self.is_workday(day):
                remaining -= 1
        return day

    def workdays_between(self, a: dt.date, b: dt.date) -> int:
        """Working days in the interval (a, b]; negative (the count in (b, a]) when b < a."""
        a, b = _as_date(a), _as_date(b)
        if b < a:
            return -self.workdays_between(b, a)
        start, end = self.schedule(a.year), self.schedule(b.year)
        if a.year == b.year:
            return _day_count(start, b) - _day_count(start, a)
        total = start.workday_count - _day_count(start, a)
        for year in range(a.year + 1, b.year):
            total += self.schedule(year).workday_count
        return total + _day_count(end, b)


def _day_count(schedule: YearSchedule, d: dt.date) -> int:
    """Working days from 1 January through ``d`` in ``d``'s year."""
    return _cumulative(schedule)[d.timetuple().tm_yday - 1]
