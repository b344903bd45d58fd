"""``subsidy_for``: row 25 of an application under a day's policy, with the enterprise's awards."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import time_machine

from applications import actions
from applications.subsidy import subsidy_for
from applications.tests.factories import NOW, make_submittable
from policy.loader import params_at
from testing.fixtures import BaseTestCase


@time_machine.travel(NOW, tick=False)
class SubsidyForTests(BaseTestCase):
    def test_it_gives_the_amount_submission_fixed_and_counts_what_the_enterprise_keeps(self) -> None:
        application = make_submittable(self.alice)
        application = actions.submit_application(application, actor=self.alice)
        day = application.received_date
        assert isinstance(day, dt.date)
        result = subsidy_for(application, day)
        self.assertEqual(result.amount, application.requested_amount)
        cap = params_at(day).annual_cap
        self.assertEqual(subsidy_for(application, day, granted=cap).amount, Decimal("0.00"))  # the cap is used up
        typed = subsidy_for(application, day, total_compute_cost=Decimal("100.00"), work_minutes=1)
        self.assertLess(typed.amount, result.amount)  # a form's values instead of the application's
