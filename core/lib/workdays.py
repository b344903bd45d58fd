"""The Chinese working-day calendar (工作日), without Django.

A working day is a day that is not a statutory holiday, counting the weekend make-up working
days (调休上班) as working days (docs/deadlines.md). The State Council publishes each year's schedule
around November, so the calendar has two sources:

* the ``chinesecalendar`` package, for the years it ships;
* schedules loaded by an administrator (``yingdu calendar load``), which take precedence, so a
  correction or a year the package does not know yet can be loaded without a release.

A later year that neither source knows yet is answered by a *provisional* (暂定) schedule:
the statutory holidays of 《全国年节及纪念日放假办法》 (:func:`statutory_holidays`, lunar dates and
the 清明 solar term from ``lunar-python``) plus weekends, with no make-up working days. Its
:attr:`YearSchedule.provisional` is set so that callers can mark every date it produced as 暂定.
Only a year before the first known year raises :class:`UnknownYearError`.

Three grades of year, then: *official* (``chinesecalendar`` or loaded), *provisional* (derived),
and unknown (before the calendar's first year).
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
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
    """One year's schedule: days off on weekdays (and holiday weekends) and weekend working days.

    ``provisional`` marks a schedule derived from the statutory holidays, before the State
    Council's notice of that year is known (暂定).
    """

    year: int
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]
    source: str = ""
    provisional: bool = False

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
        source="国务院办公厅节假日安排（随平台内置）",  # shown on the calendar page as it is
    )


# -- the provisional grade ---------------------------------------------------------------------------

PROVISIONAL_SOURCE = "暂定：按《全国年节及纪念日放假办法》法定节假日推算，未计调休"
# 《全国年节及纪念日放假办法》 as revised by the State Council on 2024-11-10, in force 2025-01-01:
# 春节 gains 除夕 and 劳动节 gains 5月2日. Earlier years follow the 2013 revision.
REVISION_2024_FROM_YEAR = 2025


def _lunar(year: int, month: int, day: int) -> dt.date:
    from lunar_python import Lunar

    solar = Lunar.fromYmd(year, month, day).getSolar()
    return dt.date(solar.getYear(), solar.getMonth(), solar.getDay())


def _qingming(year: int) -> dt.date:
    from lunar_python import Solar

    # The solar terms of the lunar year that contains June of ``year``; 清明 is in early April.
    term = Solar.fromYmd(year, 6, 1).getLunar().getJieQiTable()["清明"]
    return dt.date(term.getYear(), term.getMonth(), term.getDay())


@cache
def statutory_holidays(year: int) -> dict[str, tuple[dt.date, ...]]:
    """The statutory holidays (全体公民放假的节日) of ``year`` by festival, under the revision of
    《全国年节及纪念日放假办法》 in force that year.

    2025 on: 元旦 1 day, 春节 4 days (除夕 to 正月初三), 清明 1, 劳动节 2 (5月1–2日), 端午 1,
    中秋 1, 国庆 3 (10月1–3日). Before 2025: 春节 3 days (初一 to 初三) and 劳动节 1 day.
    """
    new_year = _lunar(year, 1, 1)
    if year >= REVISION_2024_FROM_YEAR:
        spring = tuple(new_year + dt.timedelta(days=offset) for offset in range(-1, 3))
        labour: tuple[dt.date, ...] = (dt.date(year, 5, 1), dt.date(year, 5, 2))
    else:
        spring = tuple(new_year + dt.timedelta(days=offset) for offset in range(3))
        labour = (dt.date(year, 5, 1),)
    return {
        "元旦": (dt.date(year, 1, 1),),
        "春节": spring,
        "清明节": (_qingming(year),),
        "劳动节": labour,
        "端午节": (_lunar(year, 5, 5),),
        "中秋节": (_lunar(year, 8, 15),),
        "国庆节": tuple(dt.date(year, 10, day) for day in (1, 2, 3)),
    }


@cache
def provisional_schedule(year: int) -> YearSchedule:
    """The provisional (暂定) schedule of ``year``: statutory holidays plus weekends, no 调休.

    除夕 of the next Gregorian year can fall in late January or February of the following year
    only, so every statutory day of ``year``'s festivals lies in ``year``.
    """
    days = frozenset(d for dates in statutory_holidays(year).values() for d in dates if d.year == year)
    return YearSchedule(year, days, frozenset(), source=PROVISIONAL_SOURCE, provisional=True)


class WorkdayCalendar:
    """Working-day arithmetic over known year schedules.

    ``loaded`` maps a year to ``(holidays, workdays)`` or to a :class:`YearSchedule`; those years
    override ``chinesecalendar``. Pass ``use_chinesecalendar=False`` to use only ``loaded``. A year
    after the first official one that no source has gets :func:`provisional_schedule`, unless
    ``provisional=False``.
    """

    def __init__(
        self,
        loaded: Mapping[int, YearSchedule | tuple[Iterable[dt.date], Iterable[dt.date]]] | None = None,
        *,
        use_chinesecalendar: bool = True,
        provisional: bool = True,
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
        self._provisional = provisional
        official = set(self._loaded) | (set(chinesecalendar_years()) if use_chinesecalendar else set())
        self.first_year: int | None = min(official) if official else None

    def official_schedule(self, year: int) -> YearSchedule | None:
        """The official schedule of ``year`` (loaded, else ``chinesecalendar``), or ``None``."""
        found = self._loaded.get(year)
        if found is None and self._use_chinesecalendar:
            found = chinesecalendar_schedule(year)
        return found

    def schedule(self, year: int) -> YearSchedule:
        """The schedule of ``year``: official, else provisional for a year after the first official
        one; :class:`UnknownYearError` for a year before it."""
        found = self.official_schedule(year)
        if found is None and self._provisional and self.first_year is not None and year > self.first_year:
            found = provisional_schedule(year)
        if found is None:
            raise UnknownYearError(year)
        return found

    def is_official(self, year: int) -> bool:
        return self.official_schedule(year) is not None

    def provisional_years(self, a: dt.date, b: dt.date) -> tuple[int, ...]:
        """The years from ``a`` to ``b`` (either order) answered by the provisional schedule: an answer
        that depends only on days in that range is exact when this is empty."""
        low, high = sorted((a.year, b.year))
        return tuple(year for year in range(low, high + 1) if self.schedule(year).provisional)

    def with_year(self, schedule: YearSchedule) -> WorkdayCalendar:
        """A copy of this calendar with ``schedule`` loaded (a preview of loading it)."""
        loaded: dict[int, YearSchedule] = {**self._loaded, schedule.year: schedule}
        return WorkdayCalendar(
            loaded, use_chinesecalendar=self._use_chinesecalendar, provisional=self._provisional
        )

    def without_years(self, years: Iterable[int]) -> WorkdayCalendar:
        """A copy of this calendar that has not loaded ``years`` (what it answered before they were)."""
        drop = set(years)
        loaded = {year: s for year, s in self._loaded.items() if year not in drop}
        return WorkdayCalendar(
            loaded, use_chinesecalendar=self._use_chinesecalendar, provisional=self._provisional
        )

    def knows_year(self, year: int) -> bool:
        """Whether ``year`` has an official schedule (the provisional grade does not count)."""
        return self.is_official(year)

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
        # Year by year on the running counts of working days (:func:`_cumulative`), not day by day:
        # the same days, and the same schedules asked for in the same order.
        after = d  # the count runs over the days strictly after this one
        remaining = n
        while remaining:
            first = after + ONE_DAY
            counts = _cumulative(self.schedule(first.year))
            index = first.timetuple().tm_yday - 1
            target = (counts[index - 1] if index else 0) + remaining
            if target <= counts[-1]:
                # The first day of the year by which ``target`` working days have passed is one.
                return dt.date(first.year, 1, 1) + dt.timedelta(days=bisect_left(counts, target))
            remaining = target - counts[-1]
            after = dt.date(first.year, 12, 31)
        return d

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
