"""The platform calendar (chinesecalendar + loaded years), loading a year, and docs/deadlines.md deadlines."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.test import TestCase

from core.lib.workdays import UnknownYearError
from ledger.models import AuditEvent
from policy.actions import load_holiday_year
from policy.calendar import (
    apply_deadline,
    cycle_deadline,
    cycle_workdays_used,
    get_calendar,
    objection_deadline,
    paused_workdays,
    payment_deadline,
    review_deadline,
    workdays_left,
)
from policy.loader import params_at
from policy.models import HolidayYear
from testing.fixtures import make_user

D = dt.date
PARAMS = params_at(D(2026, 6, 1))

YEAR_2027 = {
    "year": 2027,
    "source": "国务院办公厅关于2027年部分节假日安排的通知",
    "holidays": [D(2027, 1, 1), D(2027, 2, 8), D(2027, 2, 9), D(2027, 2, 10), D(2027, 2, 11), D(2027, 2, 12)],
    "workdays": [D(2027, 2, 6), D(2027, 2, 20)],
}


class CalendarTests(TestCase):
    def test_2026_01_04_a_sunday_is_a_working_day(self) -> None:
        self.assertTrue(get_calendar().is_workday(D(2026, 1, 4)))

    def test_deadlines_cross_the_2026_national_day_holiday(self) -> None:
        self.assertEqual(apply_deadline(D(2026, 9, 20), PARAMS), D(2026, 11, 6))
        self.assertEqual(review_deadline(D(2026, 9, 24), [], PARAMS), D(2026, 10, 15))
        self.assertEqual(objection_deadline(D(2026, 9, 30), PARAMS), D(2026, 10, 13))  # Sat 10 Oct works
        self.assertEqual(payment_deadline(D(2026, 9, 15), PARAMS), D(2026, 10, 19))  # 中秋 25 Sep too

    def test_it_answers_2027_provisionally_until_2027_is_loaded_then_officially(self) -> None:
        # Provisional 2027: 元旦 and 除夕–初三 (5–8 Feb) off, no 调休.
        self.assertEqual(apply_deadline(D(2027, 1, 4), PARAMS), D(2027, 2, 17))
        self.assertEqual(apply_deadline(D(2026, 12, 20), PARAMS), D(2027, 2, 1))
        self.assertFalse(get_calendar().knows_year(2027))
        admin = make_user("sys", "sysadmin")
        load_holiday_year(YEAR_2027, actor=admin)
        self.assertEqual(apply_deadline(D(2027, 1, 4), PARAMS), D(2027, 2, 19))
        self.assertEqual(apply_deadline(D(2026, 12, 20), PARAMS), D(2027, 2, 1))
        self.assertTrue(get_calendar().is_workday(D(2027, 2, 20)))  # a Saturday working day
        self.assertFalse(get_calendar().is_workday(D(2027, 2, 8)))

    def test_the_calendar_is_built_once_until_a_year_is_loaded(self) -> None:
        first = get_calendar()
        with self.assertNumQueries(1):
            self.assertIs(get_calendar(), first)
        load_holiday_year(YEAR_2027, actor=None)
        self.assertIsNot(get_calendar(), first)
        self.assertTrue(get_calendar().knows_year(2027))

    def test_loading_a_year_records_an_audit_event_and_the_loader(self) -> None:
        admin = make_user("sys", "sysadmin")
        row = load_holiday_year(YEAR_2027, actor=admin)
        self.assertEqual(row.loaded_by, admin)
        self.assertEqual(row.holidays[0], "2027-01-01")
        event = AuditEvent.objects.get(action="calendar.load")
        self.assertEqual(event.actor, admin)
        self.assertEqual(event.object_id, str(row.pk))
        self.assertIsNone(event.before)
        assert event.after is not None
        self.assertEqual(event.after["year"], 2027)
        self.assertEqual(event.after["workdays"], ["2027-02-06", "2027-02-20"])

    def test_reloading_a_year_replaces_it_and_keeps_the_old_schedule_in_the_audit_log(self) -> None:
        load_holiday_year(YEAR_2027, actor=None)
        corrected = {**YEAR_2027, "workdays": [D(2027, 2, 6)], "source": "更正通知"}
        load_holiday_year(corrected, actor=None)
        self.assertEqual(HolidayYear.objects.count(), 1)
        self.assertEqual(HolidayYear.objects.get().workdays, ["2027-02-06"])
        event = AuditEvent.objects.filter(action="calendar.load").order_by("-id").first()
        assert event is not None and event.before is not None
        self.assertEqual(event.before["workdays"], ["2027-02-06", "2027-02-20"])
        self.assertFalse(get_calendar().is_workday(D(2027, 2, 20)))

    def test_a_loaded_year_overrides_chinesecalendar(self) -> None:
        load_holiday_year(
            {"year": 2026, "source": "测试更正", "holidays": [D(2026, 1, 1), D(2026, 3, 2)], "workdays": []},
            actor=None,
        )
        self.assertFalse(get_calendar().is_workday(D(2026, 3, 2)))

    def test_strings_from_a_file_are_accepted_as_dates(self) -> None:
        row = load_holiday_year({**YEAR_2027, "holidays": ["2027-01-01", "2027-10-01"]}, actor=None)
        self.assertEqual(row.holidays, ["2027-01-01", "2027-10-01"])


class LoadValidationTests(TestCase):
    def assert_refused(self, data: dict, *fragments: str) -> None:  # type: ignore[type-arg]
        with self.assertRaises(ValidationError) as info:
            load_holiday_year(data, actor=None)
        text = "\n".join(info.exception.messages)
        for fragment in fragments:
            self.assertIn(fragment, text)
        self.assertFalse(HolidayYear.objects.exists())
        self.assertFalse(AuditEvent.objects.filter(action="calendar.load").exists())

    def test_a_date_outside_the_year_is_refused_naming_the_date(self) -> None:
        self.assert_refused(
            {**YEAR_2027, "holidays": [D(2027, 1, 1), D(2026, 12, 31)]}, "2026-12-31", "不在 2027 年内"
        )

    def test_a_day_both_holiday_and_working_day_is_refused_naming_the_date(self) -> None:
        self.assert_refused(
            {**YEAR_2027, "workdays": [D(2027, 2, 6), D(2027, 2, 8)]}, "2027-02-08", "同时列为"
        )

    def test_a_make_up_working_day_must_be_a_weekend(self) -> None:
        self.assert_refused({**YEAR_2027, "workdays": [D(2027, 3, 3)]}, "2027-03-03", "不是周末")

    def test_a_malformed_date_is_refused_naming_it(self) -> None:
        self.assert_refused({**YEAR_2027, "holidays": ["2027-13-01"]}, "2027-13-01", "不是有效日期")

    def test_year_and_source_are_required(self) -> None:
        self.assert_refused({"holidays": [D(2027, 1, 1)]}, "年份", "依据文件")

    def test_an_empty_holiday_list_is_refused(self) -> None:
        self.assert_refused({**YEAR_2027, "holidays": []}, "放假日期列表为空")

    def test_every_problem_is_reported_at_once(self) -> None:
        with self.assertRaises(ValidationError) as info:
            load_holiday_year(
                {**YEAR_2027, "holidays": [D(2028, 1, 1)], "workdays": [D(2027, 3, 3)]}, actor=None
            )
        self.assertEqual(len(info.exception.messages), 2)


class ReviewDeadlineTests(TestCase):
    received = D(2026, 3, 2)  # Monday; 10 working days later is 2026-03-16

    def test_without_a_supplement_review_ends_ten_working_days_after_receipt(self) -> None:
        self.assertEqual(review_deadline(self.received, [], PARAMS), D(2026, 3, 16))

    def test_the_review_deadline_moves_by_exactly_the_working_days_spent_waiting_for_a_supplement(
        self,
    ) -> None:
        calendar = get_calendar()
        base = review_deadline(self.received, [], PARAMS)
        for notice, resubmitted in [
            (D(2026, 3, 4), D(2026, 3, 11)),  # Wed → next Wed: 5 working days
            (D(2026, 3, 6), D(2026, 3, 9)),  # Fri → Mon: 1 working day (the weekend does not count)
            (D(2026, 9, 29), D(2026, 10, 9)),  # across National Day: 30 Sep, 9 Oct only = 2
            (D(2026, 3, 4), D(2026, 3, 4)),  # answered the same day: nothing
        ]:
            paused = calendar.workdays_between(notice, resubmitted)
            moved = review_deadline(self.received, [(notice, resubmitted)], PARAMS)
            self.assertEqual(calendar.workdays_between(base, moved), paused, (notice, resubmitted))
        self.assertEqual(
            review_deadline(self.received, [(D(2026, 3, 4), D(2026, 3, 11))], PARAMS), D(2026, 3, 23)
        )

    def test_two_supplement_rounds_add_up_and_overlaps_count_once(self) -> None:
        two = [(D(2026, 3, 4), D(2026, 3, 6)), (D(2026, 3, 10), D(2026, 3, 12))]  # 2 + 2
        self.assertEqual(paused_workdays(two), 4)
        self.assertEqual(review_deadline(self.received, two, PARAMS), D(2026, 3, 20))
        overlapping = [(D(2026, 3, 4), D(2026, 3, 10)), (D(2026, 3, 6), D(2026, 3, 12))]
        self.assertEqual(
            paused_workdays(overlapping), get_calendar().workdays_between(D(2026, 3, 4), D(2026, 3, 12))
        )

    def test_an_unanswered_supplement_notice_keeps_extending_the_deadline(self) -> None:
        open_pause = [(D(2026, 3, 4), None)]
        self.assertEqual(
            review_deadline(self.received, open_pause, PARAMS, today=D(2026, 3, 11)), D(2026, 3, 23)
        )
        self.assertEqual(
            review_deadline(self.received, open_pause, PARAMS, today=D(2026, 3, 12)), D(2026, 3, 24)
        )


class CycleTests(TestCase):
    def test_the_cycle_excludes_supplement_time(self) -> None:
        received = D(2026, 3, 2)
        pauses = [(D(2026, 3, 4), D(2026, 3, 11))]
        self.assertEqual(cycle_workdays_used(received, D(2026, 3, 16), []), 10)
        self.assertEqual(cycle_workdays_used(received, D(2026, 3, 16), pauses), 5)
        # A pause still running at ``until`` counts only up to ``until``.
        self.assertEqual(cycle_workdays_used(received, D(2026, 3, 6), [(D(2026, 3, 4), None)]), 2)
        self.assertEqual(cycle_deadline(received, [], PARAMS), get_calendar().add_workdays(received, 30))
        self.assertEqual(cycle_deadline(received, pauses, PARAMS), get_calendar().add_workdays(received, 35))

    def test_workdays_left_is_zero_on_the_deadline_and_negative_when_overdue(self) -> None:
        deadline = D(2026, 10, 9)
        self.assertEqual(workdays_left(deadline, D(2026, 9, 30)), 2)  # 30 Sep → 9 Oct: 8 Oct, 9 Oct
        self.assertEqual(workdays_left(deadline, deadline), 0)
        self.assertEqual(workdays_left(deadline, D(2026, 10, 10)), -1)  # Saturday 10 Oct is a working day
        self.assertEqual(workdays_left(deadline, D(2026, 10, 12)), -2)


@pytest.mark.django_db
def test_an_unknown_year_in_a_pause_is_an_error_too() -> None:
    with pytest.raises(UnknownYearError):
        review_deadline(D(2003, 12, 28), [(D(2003, 12, 30), D(2004, 1, 5))], PARAMS)
