"""Deadlines in a year without an official holiday schedule: decided exactly where possible, else 暂定."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.urls import reverse

from applications import actions
from applications.checks import deadline_for
from applications.states import Status
from applications.tests.factories import make_submittable
from policy.loader import params_at
from testing.fixtures import BaseTestCase

CST = dt.timezone(dt.timedelta(hours=8))
D = dt.date


class ProvisionalApplyDeadlineTests(BaseTestCase):
    def setUp(self) -> None:
        self.applicant = self.alice

    @time_machine.travel(dt.datetime(2026, 12, 10, 10, 0, tzinfo=CST), tick=False)
    def test_it_submits_on_2026_12_10_a_launch_of_2026_11_20_with_the_deadline_shown_provisional(
        self,
    ) -> None:
        launch = D(2026, 11, 20)
        app = make_submittable(self.applicant, launch_date=launch)
        submitted = actions.submit_application(app, actor=self.applicant)
        self.assertEqual(submitted.status, Status.SUBMITTED)
        info = deadline_for(launch, D(2026, 12, 10), params_at(D(2026, 12, 10)))
        # 30 working days after 20 Nov run into January 2027, which has no official schedule yet…
        self.assertEqual(info.deadline, D(2027, 1, 4))
        self.assertTrue(info.provisional)
        self.assertIn("2027年国务院节假日安排尚未公布", info.reason)
        # …but "in time" is exact: the 14 working days from launch to submission are all in 2026.
        self.assertEqual(info.days_left, 16)
        self.client.force_login(self.applicant)
        draft = make_submittable(self.applicant, launch_date=launch, filing_number="京剧备2026-0002")
        page = self.client.get(reverse("applications:step", args=[draft.pk, "work"]))
        self.assertContains(page, "申报截止日为 2027年1月4日")
        self.assertContains(page, "暂定")

    @time_machine.travel(dt.datetime(2027, 1, 20, 10, 0, tzinfo=CST), tick=False)
    def test_it_submits_on_2027_01_20_a_launch_of_2027_01_05_and_its_dates_are_provisional(self) -> None:
        launch = D(2027, 1, 5)
        app = make_submittable(self.applicant, launch_date=launch)
        submitted = actions.submit_application(app, actor=self.applicant)
        self.assertEqual(submitted.status, Status.SUBMITTED)
        info = deadline_for(launch, D(2027, 1, 20), params_at(D(2027, 1, 20)))
        self.assertTrue(info.provisional)
        self.assertEqual(info.deadline, D(2027, 2, 18))  # 除夕–初三 (5–8 Feb) off, no 调休
        from review.clock import clock_for

        clock = clock_for(submitted)
        self.assertTrue(clock.provisional)
        self.assertEqual(clock.provisional_years, (2027,))
        api = self.client
        api.force_login(self.applicant)
        data = api.get(reverse("api:application_detail", args=[submitted.pk])).json()
        self.assertEqual(
            data["deadlines"]["apply"],
            {
                "date": "2027-02-18",
                "provisional": True,
                "reason": info.reason,
            },
        )
