"""The spot check is opened by choosing an ended quarter since the policy began, and its page explains
the sampling in words, with no program text."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.urls import reverse

from testing.fixtures import BaseTestCase

BEIJING = dt.timezone(dt.timedelta(hours=8))


class QuarterSelectTests(BaseTestCase):
    def test_it_offers_the_ended_quarters_since_the_policy_began_in_a_select(self) -> None:
        with time_machine.travel(dt.datetime(2026, 12, 5, 9, 0, tzinfo=BEIJING), tick=False):
            self.login(self.inspector)
            page = self.client.get(reverse("audits:workbench")).content.decode()
        self.assertIn('<select name="quarter"', page)
        self.assertRegex(page, r'<option value="2026Q3"( selected)?>2026年第3季度</option>')
        self.assertIn('<option value="2026Q1">2026年第1季度</option>', page)
        self.assertNotIn('value="2026Q4"', page)  # not ended yet
        self.assertNotIn('value="2025Q4"', page)  # before the policy

    def test_it_explains_the_sampling_without_a_program_snippet(self) -> None:
        from ledger.actions import record_event, sign_checkpoint

        with time_machine.travel(dt.datetime(2026, 12, 5, 9, 0, tzinfo=BEIJING), tick=False):
            record_event("system.test", actor=None)
            sign_checkpoint()
            self.login(self.inspector)
            page = self.client.get(reverse("audits:spot_check", args=["2026Q3"])).content.decode()
        self.assertIn('id="sample-rule"', page)
        self.assertNotIn("import hashlib", page)
