"""The Django-free working-day calendar (docs/deadlines.md)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.lib.workdays import (
    UnknownYearError,
    WorkdayCalendar,
    chinesecalendar_schedule,
    chinesecalendar_years,
    provisional_schedule,
    statutory_holidays,
)
from policy.tests.golden import golden_rows

D = dt.date
CAL = WorkdayCalendar()


def test_every_golden_workday_case_through_the_pure_function() -> None:
    rows = golden_rows("workday_cases.csv")
    assert rows
    for row in rows:
        start, n = D.fromisoformat(row["from"]), int(row["workdays"])
        assert CAL.add_workdays(start, n).isoformat() == row["deadline"], row
        assert CAL.workdays_between(start, D.fromisoformat(row["deadline"])) == n, row


def test_2026_01_04_a_sunday_is_a_working_day() -> None:
    day = D(2026, 1, 4)
    assert day.weekday() == 6
    assert CAL.is_workday(day)


def test_deadlines_cross_the_2026_national_day_holiday() -> None:
    # 2026-10-01..10-07 are off; Sunday 2026-09-20 and Saturday 2026-10-10 are make-up working days.
    for day in (D(2026, 10, d) for d in range(1, 8)):
        assert not CAL.is_workday(day)
    assert CAL.is_workday(D(2026, 9, 20))
    assert CAL.is_workday(D(2026, 10, 10))
    assert CAL.add_workdays(D(2026, 9, 30), 1) == D(2026, 10, 8)
    assert CAL.add_workdays(D(2026, 9, 23), 5) == D(2026, 10, 8)
    assert CAL.workdays_between(D(2026, 9, 30), D(2026, 10, 9)) == 2


def test_it_refuses_a_year_before_the_first_known_year_naming_the_year() -> None:
    first = chinesecalendar_years().start
    with pytest.raises(UnknownYearError) as info:
        CAL.add_workdays(D(first - 1, 3, 2), 1)
    assert info.value.year == first - 1
    assert str(info.value) == f"{first - 1}年节假日安排尚未载入"


def test_it_answers_a_later_year_without_a_schedule_provisionally() -> None:
    year = chinesecalendar_years().stop  # the first year the package does not ship
    schedule = CAL.schedule(year)
    assert schedule.provisional
    assert not CAL.is_official(year)
    assert schedule.workdays == frozenset()  # no 调休 is ever guessed
    assert CAL.provisional_years(D(year - 1, 12, 20), CAL.add_workdays(D(year - 1, 12, 20), 30)) == (year,)
    assert CAL.provisional_years(D(year - 1, 1, 5), D(year - 1, 3, 1)) == ()


def test_it_derives_the_2027_statutory_holidays_from_the_lunar_calendar() -> None:
    days = statutory_holidays(2027)
    # 2027: 春节 is 6 February (除夕 5 February), 清明 5 April, 端午 9 June, 中秋 15 September.
    assert days["春节"] == (D(2027, 2, 5), D(2027, 2, 6), D(2027, 2, 7), D(2027, 2, 8))
    assert days["清明节"] == (D(2027, 4, 5),)
    assert days["端午节"] == (D(2027, 6, 9),)
    assert days["中秋节"] == (D(2027, 9, 15),)
    assert days["劳动节"] == (D(2027, 5, 1), D(2027, 5, 2))
    assert days["国庆节"] == (D(2027, 10, 1), D(2027, 10, 2), D(2027, 10, 3))
    assert days["元旦"] == (D(2027, 1, 1),)
    assert sum(len(v) for v in days.values()) == 13  # the 2024 revision: 13 statutory days
    schedule = provisional_schedule(2027)
    assert not schedule.is_workday(D(2027, 2, 5))  # 除夕, a Friday
    assert schedule.is_workday(D(2027, 2, 9))  # no guessed extension of the Spring Festival


@pytest.mark.parametrize("year", [y for y in chinesecalendar_years() if y >= 2020])
def test_it_keeps_the_provisional_holidays_a_subset_of_the_official_days_off(year: int) -> None:
    official = chinesecalendar_schedule(year)
    assert official is not None
    statutory = provisional_schedule(year).holidays
    assert statutory
    assert sorted(d for d in statutory if official.is_workday(d)) == []


def test_a_loaded_year_makes_the_year_known() -> None:
    cal = WorkdayCalendar({2027: ([D(2027, 1, 1)], [D(2027, 2, 20)])})
    assert not cal.is_workday(D(2027, 1, 1))
    assert cal.is_workday(D(2027, 2, 20))  # a Saturday made a working day
    assert cal.add_workdays(D(2026, 12, 31), 1) == D(2027, 1, 4)
    assert cal.workdays_between(D(2026, 12, 31), D(2027, 1, 4)) == 1


def test_loaded_years_override_chinesecalendar() -> None:
    cal = WorkdayCalendar({2026: ([D(2026, 3, 2)], [])})
    assert not cal.is_workday(D(2026, 3, 2))
    assert cal.is_workday(D(2026, 10, 1))  # the loaded 2026 replaces the built-in one entirely


def test_without_chinesecalendar_only_loaded_years_are_known() -> None:
    cal = WorkdayCalendar({2030: ([D(2030, 1, 1)], [])}, use_chinesecalendar=False)
    assert cal.knows_year(2030)
    assert not cal.knows_year(2026)


def test_add_zero_workdays_is_the_same_day_and_negative_is_refused() -> None:
    assert CAL.add_workdays(D(2026, 10, 3), 0) == D(2026, 10, 3)
    with pytest.raises(ValueError):
        CAL.add_workdays(D(2026, 10, 3), -1)


def test_datetimes_are_refused() -> None:
    with pytest.raises(TypeError):
        CAL.is_workday(dt.datetime(2026, 3, 2, 12, 0))  # noqa: DTZ001


def test_workdays_between_is_antisymmetric_across_years() -> None:
    a, b = D(2024, 12, 15), D(2026, 2, 3)
    assert CAL.workdays_between(a, b) == -CAL.workdays_between(b, a) > 0


known_days = st.dates(min_value=D(2005, 1, 1), max_value=D(2026, 9, 30))


@settings(max_examples=200, deadline=None)
@given(start=known_days, n=st.integers(min_value=0, max_value=60))
def test_add_workdays_lands_on_a_working_day_n_working_days_later(start: dt.date, n: int) -> None:
    end = CAL.add_workdays(start, n)
    assert CAL.workdays_between(start, end) == n
    if n:
        assert CAL.is_workday(end)
        assert end > start


@settings(max_examples=200, deadline=None)
@given(a=known_days, b=known_days, c=known_days)
def test_workdays_between_adds_up(a: dt.date, b: dt.date, c: dt.date) -> None:
    assert CAL.workdays_between(a, b) + CAL.workdays_between(b, c) == CAL.workdays_between(a, c)


def counted_one_by_one(cal: WorkdayCalendar, start: dt.date, n: int) -> dt.date:
    day = start
    while n:
        day += dt.timedelta(days=1)
        n -= cal.is_workday(day)
    return day


@settings(max_examples=300, deadline=None)
@given(start=st.dates(min_value=D(2004, 12, 1), max_value=D(2028, 12, 31)), n=st.integers(0, 800))
def test_add_workdays_is_the_day_counted_one_by_one_across_years(start: dt.date, n: int) -> None:
    assert CAL.add_workdays(start, n) == counted_one_by_one(CAL, start, n)


def test_add_workdays_refuses_a_year_it_reaches_without_a_schedule_naming_it() -> None:
    cal = WorkdayCalendar({2030: ([D(2030, 1, 1)], [])}, use_chinesecalendar=False, provisional=False)
    assert cal.add_workdays(D(2029, 12, 31), 3) == D(2030, 1, 4)  # the day before 2030 is never asked
    assert cal.add_workdays(D(2030, 12, 30), 1) == D(2030, 12, 31)
    with pytest.raises(UnknownYearError) as raised:
        cal.add_workdays(D(2030, 12, 30), 2)
    assert raised.value.year == 2031
