from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.test import SimpleTestCase

from reports.budget import Budget, BudgetFileError, budget_for, load_budgets, parse_budgets


def entry(value: Any, reference: str = "预算批复") -> dict[str, Any]:
    return {"values": {2027: {"value": value, "reference": reference}}}


class BudgetFileTests(SimpleTestCase):
    def test_the_shipped_file_holds_the_2026_budget_with_its_reference(self) -> None:
        self.assertEqual(
            budget_for(2026),
            Budget(year=2026, amount=Decimal("5000000.00"), reference="区文促中心年度预算（示例）"),
        )
        self.assertIn(2026, load_budgets())

    def test_a_year_without_a_budget_has_none(self) -> None:
        self.assertIsNone(budget_for(1999))

    def test_it_reads_string_and_integer_amounts_exactly(self) -> None:
        self.assertEqual(parse_budgets(entry("1,200,000.50"))[2027].amount, Decimal("1200000.50"))
        self.assertEqual(parse_budgets(entry(3000000))[2027].amount, Decimal("3000000.00"))

    def test_it_refuses_malformed_entries(self) -> None:
        bad: dict[str, Any]
        for bad in (
            entry(1.5),
            entry("abc"),
            entry("-5"),
            entry("1.234"),
            entry("100", reference=""),
            {"values": {"next": {"value": "1", "reference": "x"}}},
            {"values": {1800: {"value": "1", "reference": "x"}}},
            {"no_values": {}},
        ):
            with self.assertRaises(BudgetFileError, msg=repr(bad)):
                parse_budgets(bad)
