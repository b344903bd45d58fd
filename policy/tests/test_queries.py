"""applications.money.kept_total: what the enterprise keeps of its subsidies of a calendar year,
for the annual cap."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.apps import apps

from applications.money import kept_total
from testing.fixtures import BaseTestCase

SHANGHAI = ZoneInfo("Asia/Shanghai")


class GrantedTotalTests(BaseTestCase):
    def make(
        self,
        status: str,
        granted: str | None,
        submitted: dt.datetime | None,
        enterprise: Any = None,
        clawed_back: str = "0",
    ) -> Any:
        application = apps.get_model("applications", "Application")
        self.count = getattr(self, "count", 0) + 1
        paid = (
            Decimal(granted)
            if granted and status in ("paid", "clawed_back", "partially_clawed_back")
            else Decimal("0")
        )
        return application.objects.create(
            filing_number=f"测试备案{self.count:04d}",
            enterprise=enterprise or self.enterprise,
            created_by=self.alice,
            status=status,
            granted_amount=Decimal(granted) if granted is not None else None,
            paid_amount=paid,
            clawed_back_amount=Decimal(clawed_back),
            submitted_at=submitted,
        )

    def test_it_sums_granted_amounts_of_the_submission_year(self) -> None:
        self.make("approved", "20000.00", dt.datetime(2026, 3, 1, 10, tzinfo=SHANGHAI))
        self.make("paid", "15000.50", dt.datetime(2026, 11, 1, 10, tzinfo=SHANGHAI))
        self.make("paid", "9999.00", dt.datetime(2025, 11, 1, 10, tzinfo=SHANGHAI))
        self.assertEqual(kept_total(self.enterprise.pk, 2026), Decimal("35000.50"))
        self.assertEqual(kept_total(self.enterprise.pk, 2025), Decimal("9999.00"))
        self.assertEqual(kept_total(self.enterprise.pk, 2024), Decimal("0.00"))

    def test_the_year_is_counted_in_beijing_time(self) -> None:
        # 2026-12-31 17:00 UTC is 2027-01-01 01:00 in Beijing: a 2027 submission.
        self.make("paid", "1000.00", dt.datetime(2026, 12, 31, 17, tzinfo=dt.UTC))
        self.assertEqual(kept_total(self.enterprise.pk, 2026), Decimal("0.00"))
        self.assertEqual(kept_total(self.enterprise.pk, 2027), Decimal("1000.00"))

    def test_clawed_back_and_undecided_applications_count_nothing(self) -> None:
        when = dt.datetime(2026, 5, 1, 9, tzinfo=SHANGHAI)
        self.make("clawed_back", "20000.00", when, clawed_back="20000.00")
        self.make("initial_review", None, when)
        self.make("draft", None, None)
        self.make("approved", "100.00", when)
        self.assertEqual(kept_total(self.enterprise.pk, 2026), Decimal("100.00"))

    def test_other_enterprises_and_the_excluded_application_are_left_out(self) -> None:
        when = dt.datetime(2026, 5, 1, 9, tzinfo=SHANGHAI)
        mine = self.make("approved", "100.00", when)
        self.make("approved", "200.00", when)
        self.make("approved", "5000.00", when, enterprise=self.other_enterprise)
        self.assertEqual(kept_total(self.enterprise.pk, 2026), Decimal("300.00"))
        self.assertEqual(
            kept_total(self.enterprise.pk, 2026, exclude_application_id=mine.pk), Decimal("200.00")
        )

    def test_it_counts_what_a_partial_clawback_leaves_the_enterprise(self) -> None:
        when = dt.datetime(2026, 5, 1, 9, tzinfo=SHANGHAI)
        self.make("partially_clawed_back", "9750.00", when, clawed_back="4871.10")
        self.assertEqual(kept_total(self.enterprise.pk, 2026), Decimal("4878.90"))

    def test_it_is_one_query(self) -> None:
        with self.assertNumQueries(1):
            kept_total(self.enterprise.pk, 2026)
