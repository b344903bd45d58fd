"""The system administrator enters an official year with date pickers, previews, confirms; from
1 November the workbench and a daily job say when next year has no official schedule."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.core import mail
from django.test import TestCase, override_settings
from django.urls import reverse

from accounts.roles import Role
from ledger.models import AuditEvent
from policy.calendar import get_calendar
from policy.models import HolidayYear
from policy.tasks import warn_system_administrators
from testing.fixtures import make_user

CST = dt.timezone(dt.timedelta(hours=8))


def at(day: str) -> time_machine.travel:
    return time_machine.travel(dt.datetime.fromisoformat(f"{day}T09:00:00+08:00"), tick=False)


@override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
class CalendarEntryTests(TestCase):
    def setUp(self) -> None:
        self.admin = make_user("sys", Role.SYSADMIN, email="sys@yingdu.local")
        self.client.force_login(self.admin)

    @at("2026-12-01")
    def test_it_starts_from_the_statutory_days_previews_and_loads_on_confirmation(self) -> None:
        page = self.client.get(reverse("policy:calendar_enter"))
        self.assertContains(page, 'value="2027-02-05"')  # 除夕 2027, a Friday
        self.assertContains(page, "国务院办公厅关于2027年部分节假日安排的通知")
        form = {
            "year": "2027",
            "source": "国务院办公厅关于2027年部分节假日安排的通知",
            "holidays": ["2027-01-01", "2027-02-05", "2027-02-08", "2027-02-09", "", ""],
            "workdays": ["2027-02-20", ""],
        }
        preview = self.client.post(reverse("policy:calendar_enter"), {**form, "action": "preview"})
        self.assertContains(preview, "没有未到期的期限因此调整")
        self.assertContains(preview, 'id="confirm"')
        self.assertFalse(HolidayYear.objects.exists())
        done = self.client.post(reverse("policy:calendar_enter"), {**form, "action": "confirm"})
        self.assertRedirects(done, reverse("policy:calendar"))
        self.assertTrue(get_calendar().is_official(2027))
        self.assertTrue(get_calendar().is_workday(dt.date(2027, 2, 20)))
        self.assertEqual(AuditEvent.objects.filter(action="calendar.load", actor=self.admin).count(), 1)

    @at("2026-12-01")
    def test_it_names_a_bad_date_and_stores_nothing(self) -> None:
        page = self.client.post(
            reverse("policy:calendar_enter"),
            {
                "year": "2027",
                "source": "通知",
                "holidays": ["2027-01-01"],
                "workdays": ["2027-03-03"],
                "action": "confirm",
            },
        )
        self.assertContains(page, "调休上班日期 2027-03-03 不是周末")
        self.assertFalse(HolidayYear.objects.exists())

    def test_it_refuses_anyone_but_the_system_administrator(self) -> None:
        self.client.force_login(make_user("r", Role.REVIEWER))
        self.assertEqual(self.client.get(reverse("policy:calendar_enter")).status_code, 403)

    def test_it_warns_from_1_november_while_next_year_has_no_official_schedule(self) -> None:
        with at("2026-10-31"):
            self.assertNotContains(self.client.get(reverse("workbench")), 'id="calendar-warning"')
            self.assertEqual(warn_system_administrators(), "")
        with at("2026-11-02"):
            self.client.force_login(self.admin)  # two days idle ended the session
            self.assertContains(self.client.get(reverse("workbench")), "2027年节假日安排尚未正式载入")
            with self.captureOnCommitCallbacks(execute=True):
                self.assertIn("2027年", warn_system_administrators())
            self.assertEqual(mail.outbox[-1].to, ["sys@yingdu.local"])
            self.assertContains(self.client.get(reverse("policy:calendar")), "暂定")
