"""A year of operation across a year boundary (2026-10-01 → 2027-03-31), 2027 provisional at first,
the official 2027 loaded part-way with a schedule that moves deadlines both ways.

The demo's own plan (:mod:`demo.year`, a handful of its stories) is played one simulated day at a
time through the platform's actions; after each day the invariants below are checked, cheaply.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.db.models import Sum
from django.test import Client

from accounts.groups import ensure_role_groups
from accounts.models import User
from applications.models import Application
from applications.states import COUNTS_AGAINST_CAP, IN_REVIEW, Status
from core.models import Notification
from demo import game, year
from demo.staff import STAFF, ensure_user
from ledger.verification import run_verification
from policy.actions import load_holiday_year
from policy.calendar import get_calendar
from policy.loader import params_at
from reports import queries
from review.clock import clock_for
from review.models import DeadlineReminder, Payment
from review.reminders import send_deadline_reminders

CST = dt.timezone(dt.timedelta(hours=8))
START, END = dt.date(2026, 10, 1), dt.date(2027, 3, 31)
LOAD_ON = dt.date(2026, 12, 21)
# Official 2027: Saturday 2 January works (deadlines come earlier), 春节 runs 5–11 February
# (deadlines go later than the provisional 5–8 February).
OFFICIAL_2027 = {
    "year": 2027,
    "source": "国务院办公厅关于2027年部分节假日安排的通知（模拟）",
    "holidays": ["2027-01-01", "2027-02-05", "2027-02-08", "2027-02-09", "2027-02-10", "2027-02-11"],
    "workdays": ["2027-01-02", "2027-02-20"],
}
# Paid, partly and fully clawed back, objected, supplement round, withdrawn, approved, re-review, supplement, submitted.
STORIES = [0, 3, 4, 8, 11, 10, 18, 22, 24, 27]
PAGE_DAYS = {dt.date(2026, 11, 2), LOAD_ON, dt.date(2027, 1, 4), dt.date(2027, 2, 12), END}
PAGES = ["/workbench/", "/review/", "/audits/", "/reports/", "/applications/", "/policy/calendar/"]


def at(day: dt.date, hour: int = 18) -> time_machine.travel:
    return time_machine.travel(dt.datetime.combine(day, dt.time(hour), tzinfo=CST), tick=False)


def check_day(day: dt.date, personas: list[User], pages_today: bool) -> None:
    # No enterprise-year above the annual cap.
    cap = params_at(day).annual_cap
    for row in (
        Application.objects.filter(status__in=list(COUNTS_AGAINST_CAP))
        .values("enterprise_id", "approved_at__year")
        .annotate(total=Sum("granted_amount"))
    ):
        assert row["total"] <= cap, (day, row)
    # The figures of `reports summary` equal the sums of the application rows.
    if pages_today:  # the whole summary, as `reports summary --json` prints it
        totals = queries.dashboard(day.year, today=day)["totals"]
    else:  # its totals are the sums of the monthly figures
        month = queries.monthly(day.year)
        totals = {k: sum(month[k]) for k in ("submitted", "requested", "paid")}
    year_apps = Application.objects.filter(submitted_at__year=day.year)
    assert totals["submitted"] == year_apps.count(), day
    requested = year_apps.aggregate(s=Sum("requested_amount"))["s"] or Decimal("0")
    assert Decimal(totals["requested"]) == requested, day
    paid = Payment.objects.filter(date__year=day.year).aggregate(s=Sum("amount"))["s"] or Decimal("0")
    assert Decimal(totals["paid"]) == paid, day
    # Every open application has a deadline, exact or 暂定.
    for app in Application.objects.filter(status__in=[s.value for s in (*IN_REVIEW, Status.APPROVED)]):
        clock = clock_for(app, today=day)
        assert clock.error == "" and clock.next_due is not None, (day, app.status, clock)
    # Every notification due is sent exactly once: the daily reminder job runs twice, sends once.
    send_deadline_reminders(day)
    if pages_today or day.weekday() == 0:
        before = DeadlineReminder.objects.count()
        assert send_deadline_reminders(day) == 0
        assert DeadlineReminder.objects.count() == before
    # No page answers 5xx for any persona (load day, around New Year and 春节, last day).
    if pages_today:
        for user in personas:
            client = Client()
            client.force_login(user)
            for page in PAGES:
                assert client.get(page).status_code < 500, (day, user.username, page)


@pytest.mark.django_db
def test_it_lives_through_a_year_boundary_with_the_official_year_loaded_part_way(
    django_capture_on_commit_callbacks: Any,
) -> None:
    ensure_role_groups()
    for username, display_name, role in STAFF:
        ensure_user(username, display_name, role, email=f"{username}@yingdu.local")
    staff = {u.username: u for u in User.objects.filter(username__in=year.STAFF_NAMES)}
    sim = game.Demo(start=START, today=END)
    year.cast(sim, staff)
    assert not get_calendar().is_official(2027)
    year.plan(sim, STORIES)
    year.spot_check(sim)
    personas = [
        *(staff[name] for name in ("reviewer", "head", "finance", "inspector", "sysadmin")),
        User.objects.get(username="yingzhi"),
    ]
    day = START
    provisional_seen = official_seen = False
    while day <= END:
        # What the actions hand to after-commit (receipts, notices, reminders) runs as on a server.
        with django_capture_on_commit_callbacks(execute=True):
            year.play(sim, until=day)
            if day == LOAD_ON:
                with at(day, 10):
                    load_holiday_year(OFFICIAL_2027, actor=staff["sysadmin"])
        with at(day), django_capture_on_commit_callbacks(execute=True):
            check_day(day, personas, day in PAGE_DAYS)
            open_clocks = [
                clock_for(a) for a in Application.objects.filter(status__in=[s.value for s in IN_REVIEW])
            ]
            provisional_seen |= any(c.provisional for c in open_clocks)
            official_seen |= (
                day > LOAD_ON and bool(open_clocks) and not any(c.provisional for c in open_clocks)
            )
        day += dt.timedelta(days=1)
    assert not sim.events
    assert provisional_seen and official_seen
    assert get_calendar().is_official(2027)
    statuses = set(Application.objects.values_list("status", flat=True))
    assert {
        Status.PAID,
        Status.PARTIALLY_CLAWED_BACK,
        Status.CLAWED_BACK,
        Status.WITHDRAWN,
        Status.SUPPLEMENT_REQUESTED,
    } <= statuses
    # Each submission's receipt reached each applicant user of its enterprise exactly once.
    for app in Application.objects.exclude(submitted_at=None):
        receipts = Notification.objects.filter(application=app, kind=Notification.Kind.SUBMISSION_RECEIPT)
        assert receipts.count() == receipts.values("user").distinct().count() >= 1, app.reference
    with at(END):
        assert run_verification(actor=None, actor_repr="test").ok
        call_command("ledger", "verify", stdout=io.StringIO())
