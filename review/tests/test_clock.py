"""The working-day clock (docs/deadlines.md): review deadline, payment deadline and total cycle, supplement
time excluded exactly; overdue work flagged."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import time_machine
from django.urls import reverse

from applications.states import Status
from review import actions, resubmission
from review.clock import clock_for
from review.tests.helpers import ReviewTestCase
from testing.fixtures import make_application

SH = ZoneInfo("Asia/Shanghai")


def at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=SH)


def d(day: str) -> dt.date:
    return dt.date.fromisoformat(day)


class ClockTests(ReviewTestCase):
    def submitted(self, day: str = "2026-03-02"):  # type: ignore[no-untyped-def]
        with time_machine.travel(at(day), tick=False):
            return make_application(self.enterprise, self.alice, Status.SUBMITTED, submitted=at(day))

    def test_without_supplement_review_is_due_ten_working_days_after_receipt(self) -> None:
        app = self.submitted()  # Monday 2 March 2026
        clock = clock_for(app, today=d("2026-03-02"))
        self.assertEqual(clock.received, d("2026-03-02"))
        self.assertEqual(clock.due, d("2026-03-16"))
        self.assertEqual(clock.left, 10)
        self.assertEqual(clock.cycle_due, d("2026-04-14"))
        self.assertFalse(clock.overdue)

    def test_review_deadline_and_cycle_exclude_exactly_the_supplement_time(self) -> None:
        app = self.submitted()
        with time_machine.travel(at("2026-03-03"), tick=False):
            actions.claim_application(app, actor=self.reviewer)
        with time_machine.travel(at("2026-03-04"), tick=False):  # Wednesday: notice day (exclusive)
            actions.request_supplement(app, items=[("row:platform_name", "请确认")], actor=self.reviewer)
        with time_machine.travel(at("2026-03-09"), tick=False):  # Monday: resubmission day (inclusive)
            resubmission.resubmit_application(app, answers={"row:platform_name": "无误"}, actor=self.alice)

        # Paused working days: Thu 5, Fri 6, Mon 9 March = 3.
        clock = clock_for(app, today=d("2026-03-10"))
        self.assertEqual(clock.paused_workdays, 3)
        self.assertEqual(clock.due, d("2026-03-19"))  # 16 March + 3 working days
        self.assertEqual(clock.cycle_due, d("2026-04-17"))  # 14 April + 3 working days
        # Received Mon 2 → Tue 10 is 6 working days, 3 of them paused.
        self.assertEqual(clock.cycle_used, 3)
        self.assertEqual(clock.left, 7)

    def test_while_waiting_for_the_applicant_the_clock_is_paused(self) -> None:
        app = self.submitted()
        with time_machine.travel(at("2026-03-04"), tick=False):
            actions.claim_application(app, actor=self.reviewer)
            actions.request_supplement(app, items=[("row:platform_name", "请确认")], actor=self.reviewer)
        early = clock_for(app, today=d("2026-03-06"))
        late = clock_for(app, today=d("2026-03-20"))
        self.assertTrue(early.paused and late.paused)
        self.assertEqual(early.left, late.left)
        assert late.due is not None and early.due is not None
        self.assertGreater(late.due, early.due)
        self.assertFalse(late.overdue)

    def test_an_overdue_item_is_flagged(self) -> None:
        app = self.submitted()
        clock = clock_for(app, today=d("2026-03-18"))
        self.assertEqual(clock.left, -2)
        self.assertTrue(clock.overdue)
        with time_machine.travel(at("2026-03-18"), tick=False):
            self.login(self.reviewer)
            response = self.client.get(reverse("review:workbench"))
            self.assertContains(response, 'class="overdue"')
            self.assertContains(response, "已逾期 2 个工作日")
            page = self.client.get(reverse("review:detail", args=[app.pk]))
            self.assertContains(page, "已逾期")

    def test_an_item_due_within_two_working_days_is_marked_due_soon(self) -> None:
        app = self.submitted()
        clock = clock_for(app, today=d("2026-03-12"))
        self.assertEqual(clock.left, 2)
        self.assertTrue(clock.due_soon)
        self.assertFalse(clock.overdue)

    def test_payment_is_due_twenty_working_days_after_approval(self) -> None:
        app = self.submitted()
        with time_machine.travel(at("2026-03-05"), tick=False):
            for action, actor in [
                (actions.claim_application, self.reviewer),
                (actions.pass_initial_review, self.reviewer),
                (actions.pass_re_review, self.head),
                (actions.approve_application, self.approver),
            ]:
                action(app, actor=actor, opinion="同意")
        clock = clock_for(app, today=d("2026-03-05"))
        self.assertEqual(clock.stage, "payment")
        self.assertEqual(clock.due, d("2026-04-02"))
        self.assertEqual(clock.cycle_due, d("2026-04-14"))

    def test_a_paid_application_shows_the_cycle_it_took(self) -> None:
        app = self.submitted()
        with time_machine.travel(at("2026-03-05"), tick=False):
            for action, actor in [
                (actions.claim_application, self.reviewer),
                (actions.pass_initial_review, self.reviewer),
                (actions.pass_re_review, self.head),
                (actions.approve_application, self.approver),
            ]:
                action(app, actor=actor, opinion="同意")
        with time_machine.travel(at("2026-03-10"), tick=False):
            actions.record_payment(
                app,
                date=d("2026-03-10"),
                amount=app.granted_amount,
                bank_reference="B1",
                actor=self.finance,
            )
        clock = clock_for(app, today=d("2026-05-01"))
        self.assertEqual(clock.stage, "done")
        self.assertEqual(clock.cycle_used, 6)
        self.assertFalse(clock.overdue)

    def test_it_marks_deadlines_in_a_year_without_an_official_schedule_provisional(self) -> None:
        app = self.submitted("2026-12-21")
        clock = clock_for(app, today=d("2026-12-21"))
        self.assertEqual(clock.error, "")
        self.assertEqual(clock.provisional_years, (2027,))
        self.assertIn("2027年国务院节假日安排尚未公布", clock.reason)
        # Provisional 2027: 元旦 off, no 调休 — 10 working days after 21 Dec is 5 Jan.
        self.assertEqual(clock.due, d("2027-01-05"))
        early = self.submitted("2026-11-02")
        self.assertFalse(clock_for(early, today=d("2026-11-02")).provisional)
