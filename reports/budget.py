"""The center's yearly subsidy budget, read from ``reports/budget.yaml``.

The budget is data with a reference to the document that set it, like the policy parameters,
so a new year's figure is a one-line change reviewed like any other data, never a constant in
code. A year that is not in the file has no budget: the dashboard says so instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

DEFAULT_FILE = Path(__file__).resolve().parent / "budget.yaml"


class BudgetFileError(ValueError):
    """The budget file is malformed; the message names the year and the problem."""


@dataclass(frozen=True)
class Budget:
    year: int
    amount: Decimal
    reference: str


def _amount(value: Any, where: str) -> Decimal:
    if isinstance(value, bool | float):
        # YAML floats are binary: 0.1 is not exact. Amounts are written as strings or integers.
        raise BudgetFileError(f"{where}: amount must be a string or an integer, not {type(value).__name__}")
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        raise BudgetFileError(f"{where}: not an amount: {value!r}") from None
    if not amount.is_finite() or amount <= 0:
        raise BudgetFileError(f"{where}: amount must be positive")
    if amount != amount.quantize(Decimal("0.01")):
        raise BudgetFileError(f"{where}: amount has more than two decimals")
    return amount.quantize(Decimal("0.01"))


def parse_budgets(data: Any) -> dict[int, Budget]:
    """Validate the file's content: ``values`` keyed by year, each with ``value`` and ``reference``."""
    if not isinstance(data, dict) or not isinstance(data.get("values"), dict):
        raise BudgetFileError("budget file must have a 'values' mapping keyed by year")
    budgets: dict[int, Budget] = {}
    for key, entry in data["values"].items():
        try:
            year = int(key)
        except (TypeError, ValueError):
            raise BudgetFileError(f"{key!r}: not a year") from None
        if not 2000 <= year <= 2100:
            raise BudgetFileError(f"{year}: not a plausible year")
        if not isinstance(entry, dict):
            raise BudgetFileError(f"{year}: expected 'value' and 'reference'")
        reference = str(entry.get("reference") or "").strip()
        if not reference:
            raise BudgetFileError(f"{year}: a budget needs a reference (预算依据)")
        budgets[year] = Budget(year=year, amount=_amount(entry.get("value"), str(year)), reference=reference)
    return budgets


@lru_cache(maxsize=4)
def _load(path: str) -> dict[int, Budget]:
    with open(path, encoding="utf-8") as handle:
        return parse_budgets(yaml.safe_load(handle))


def load_budgets(path: Path | str | None = None) -> dict[int, Budget]:
    """All budgets of the file (default: ``settings.REPORTS_BUDGET_FILE`` or the shipped file), cached."""
    if path is None:
        from django.conf import settings

        path = getattr(settings, "REPORTS_BUDGET_FILE", None) or DEFAULT_FILE
    return _load(str(Path(path).resolve()))


def budget_for(year: int, *, path: Path | str | None = None) -> Budget | None:
    """The budget of a calendar year, or ``None`` when none is recorded."""
    return load_budgets(path).get(year)
