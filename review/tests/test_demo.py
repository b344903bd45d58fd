"""``yingdu demo`` is a living year: at any date it plays the last months of operation through the
platform's own actions, leaving data in every state and stage, and a second run adds nothing."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client

from accounts.models import User
from applications.models import Application
from applications.states import Status
from audits.models import Clawback, Finding, Repayment, SpotCheck
from demo.cast import ENTERPRISES
from enterprises.models import Enterprise, Provider
from ledger.models import AuditEvent
from monitoring.models import Node, UsageRecord
from review.models import DeadlineReminder, OnSiteCheck, Payment, Rating, RatingFollowUp, SupplementNotice
from testing.demo_year import PlayedDemo

CST = dt.timezone(dt.timedelta(hours=8))


def counts() -> dict[str, int]:
    return {
        "applications": Application.objects.count(),
        "events": AuditEvent.objects.count(),
        "usage": UsageRecord.objects.count(),
        "findings": Finding.objects.count(),
        "enterprises": Enterprise.objects.count(),
    }


def assert_a_living_year() -> None:
    statuses = set(Application.objects.values_list("status", flat=True))
    shown = {s.value for s in Status}
    assert statuses == shown, sorted(shown - statuses)
    assert Application.objects.count() == 32  # 30 stories and two offers accepted (demo.offers)
    assert Enterprise.objects.count() == 8
    assert Enterprise.objects.filter(status=Enterprise.Status.PENDING).count() == 1
    assert Enterprise.objects.filter(blacklisted=True).count() == 1
    assert Provider.objects.count() == 3
    assert Node.objects.count() == 3
    assert UsageRecord.objects.filter(signed=True).exists()
    assert SupplementNotice.objects.filter(resubmitted_date__isnull=False).exists()
    assert OnSiteCheck.objects.exists()
    assert Payment.objects.count() >= 8
    assert (
        DeadlineReminder.objects.exists()
        or AuditEvent.objects.filter(action="review.deadline_reminders").exists()
    )
    assert SpotCheck.objects.exists()
    assert {f.status for f in Finding.objects.all()} >= {s.value for s in Finding.Status}
    partial = Clawback.objects.get(application__status=Status.PARTIALLY_CLAWED_BACK)
    assert partial.amount < (partial.application.granted_amount or 0)
    assert Repayment.objects.filter(clawback=partial).exists()
    full = Clawback.objects.get(application__status=Status.CLAWED_BACK)
    assert full.amount == full.application.granted_amount
    assert Rating.objects.count() == 5
    assert set(RatingFollowUp.objects.values_list("status", flat=True)) == {"open", "closed"}


def assert_playing_again_adds_nothing() -> None:
    """A second run of the demo adds nothing and says so; the first enterprise's user signs in
    without being asked to change the password."""
    first = counts()
    out = io.StringIO()
    call_command("demo", stdout=out)
    assert counts() == first
    assert "演示：运营数据已存在，未重复载入。" in out.getvalue()
    client = Client()
    client.force_login(User.objects.get(username=ENTERPRISES[0][0]))
    page = client.get("/applications/")
    assert page.status_code == 200 and "修改密码" not in page.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "today",
    [
        "2026-06-15T09:00:00",  # four months after the policy took effect
        "2027-01-25T09:00:00",  # late January of a year with no official schedule, before 春节
        "2027-04-20T09:00:00",  # April: the whole of 2027 so far on the provisional calendar
    ],
)
def test_it_plays_a_living_year_at_any_date_and_twice_adds_nothing(today: str) -> None:
    with time_machine.travel(dt.datetime.fromisoformat(today).replace(tzinfo=CST), tick=False):
        call_command("demo", stdout=io.StringIO())
        assert_a_living_year()
        assert_playing_again_adds_nothing()
    call_command("ledger", "verify", stdout=io.StringIO())  # the played year is a valid log


@pytest.mark.django_db(transaction=True)
def test_it_plays_a_living_year_in_mid_december_and_twice_adds_nothing(demo_year: PlayedDemo) -> None:
    """Mid-December: deadlines run into a 2027 without an official schedule (the session's played year)."""
    assert_a_living_year()
    assert_playing_again_adds_nothing()
    call_command("ledger", "verify", stdout=io.StringIO())
