"""The subsidy calculation (docs/subsidy.md), through the pure functions."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy.loader import PolicyParams, params_at
from policy.rules import FORMULAS, SubsidyResult, calculate_subsidy, formula_2026_02, formula_for
from policy.tests.golden import golden_rows

PARAMS = params_at(dt.date(2026, 6, 1))


def calc(
    cost: str | Decimal,
    minutes: int,
    overseas: bool = False,
    granted: str | Decimal = "0",
    params: PolicyParams = PARAMS,
) -> SubsidyResult:
    return calculate_subsidy(
        total_compute_cost=Decimal(cost),
        work_minutes=minutes,
        overseas=overseas,
        granted_this_year=Decimal(granted),
        params=params,
    )


def test_every_golden_subsidy_case_through_the_pure_function() -> None:
    rows = golden_rows("subsidy_cases.csv")
    assert rows
    for row in rows:
        result = calc(
            row["total_compute_cost"],
            int(row["work_minutes"]),
            row["overseas"] == "yes",
            row["granted_this_year"],
        )
        assert (str(result.amount), result.binding) == (row["amount"], row["binding"]), row


@pytest.mark.parametrize(
    ("cost", "minutes", "overseas", "granted", "amount", "binding"),
    [
        ("50000", 60, False, "0", "12000.00", "per_minute_cap"),
        ("50000", 100, False, "0", "15000.00", "rate"),
        ("100000", 120, False, "0", "20000.00", "per_work_cap"),
        ("100000", 120, True, "0", "26000.00", "per_work_cap"),
        ("40000", 80, True, "0", "15600.00", "rate"),
        ("50000", 100, False, "90000", "10000.00", "annual_cap"),
    ],
)
def test_the_worked_examples_of_the_spec(
    cost: str, minutes: int, overseas: bool, granted: str, amount: str, binding: str
) -> None:
    result = calc(cost, minutes, overseas, granted)
    assert (str(result.amount), result.binding) == (amount, binding)


def test_it_caps_subsidy_at_annual_limit() -> None:
    result = calc("50000", 100, granted="95000.50")
    assert result.amount == Decimal("4999.50")
    assert result.binding == "annual_cap"


def test_an_exhausted_quota_gives_zero_and_reports_what_is_left() -> None:
    result = calc("50000", 100, granted="120000")
    assert result.amount == Decimal("0.00")
    assert result.binding == "annual_cap"
    assert result.annual_left == Decimal("-20000.00")  # annual_cap − granted, as docs/subsidy.md defines it


def test_ties_go_to_the_first_term_in_spec_order() -> None:
    # 66,666.67 × 0.30 = 20,000.00 (rounded) = 100 min × 200 = per-work cap 20,000.
    result = calc("66666.67", 100)
    assert result.by_rate == result.by_minutes == result.by_work == Decimal("20000.00")
    assert result.binding == "rate"
    assert calc("100000", 100).binding == "per_minute_cap"  # 200×100 = 20,000 = per-work cap
    assert calc("100000", 100, granted="80000").binding == "per_minute_cap"  # quota 20,000 ties too


def test_the_rate_term_is_rounded_half_up_to_the_cent() -> None:
    assert calc("12345.67", 100).by_rate == Decimal("3703.70")
    assert calc("0.05", 100).by_rate == Decimal("0.02")  # 0.015 rounds up


def test_the_result_names_the_policy_version_and_every_step() -> None:
    result = calc("50000", 60, granted="30000")
    assert result.policy_version == "2026-02-05"
    assert [step.code for step in result.breakdown] == [
        "rate",
        "per_minute_cap",
        "per_work_cap",
        "annual_cap",
        "amount",
    ]
    assert [step.label for step in result.breakdown][:4] == [
        "按比例计算",
        "按分钟上限",
        "单部作品上限",
        "年度剩余额度",
    ]
    assert "50,000.00" in result.breakdown[0].formula and "30%" in result.breakdown[0].formula
    assert "60 分钟" in result.breakdown[1].formula
    assert result.breakdown[3].value == Decimal("70000.00")
    assert result.breakdown[-1].value == result.amount == Decimal("12000.00")


def test_as_dict_gives_money_as_strings_with_two_decimals() -> None:
    data = calc("40000", 80, overseas=True).as_dict()
    assert data["amount"] == "15600.00"
    assert data["binding"] == "rate"
    assert data["by_rate"] == "15600.00"
    assert data["by_minutes"] == "20800.00"
    assert data["by_work"] == "26000.00"
    assert data["annual_left"] == "100000.00"
    assert data["rate"] == "0.39"
    assert data["policy_version"] == "2026-02-05"
    assert data["breakdown"][0]["value"] == "15600.00"


@pytest.mark.parametrize(
    ("cost", "minutes", "granted"), [("-1", 10, "0"), ("1", -1, "0"), ("1", 10, "-0.01")]
)
def test_negative_inputs_are_refused(cost: str, minutes: int, granted: str) -> None:
    with pytest.raises(ValueError):
        calc(cost, minutes, granted=granted)


def test_the_dispatcher_picks_the_formula_in_force_on_the_parameters_date() -> None:
    assert formula_for(PARAMS) is formula_2026_02
    earlier = dataclasses.replace(PARAMS, effective_from=FORMULAS[0][0] - dt.timedelta(days=1))
    with pytest.raises(LookupError):
        formula_for(earlier)


# --- properties ----------------------------------------------------------------------------------

money = st.decimals(
    min_value=Decimal("0.00"), max_value=Decimal("500000.00"), places=2, allow_nan=False, allow_infinity=False
)
minutes = st.integers(min_value=0, max_value=1000)


@settings(max_examples=300, deadline=None)
@given(cost=money, minutes=minutes, overseas=st.booleans(), granted=money)
def test_the_amount_never_exceeds_any_cap_the_quota_left_or_cost_times_rate(
    cost: Decimal, minutes: int, overseas: bool, granted: Decimal
) -> None:
    result = calc(cost, minutes, overseas, granted)
    rate = PARAMS.rate(overseas=overseas)
    assert Decimal("0") <= result.amount
    assert result.amount <= PARAMS.per_work_cap(overseas=overseas)
    assert result.amount <= minutes * PARAMS.per_minute_cap(overseas=overseas)
    assert result.amount <= max(PARAMS.annual_cap - granted, Decimal("0"))
    # Rounding half up may add at most half a cent to cost × rate.
    assert result.amount <= cost * rate + Decimal("0.005")
    assert result.amount == min(
        result.by_rate, result.by_minutes, result.by_work, max(result.annual_left, Decimal("0"))
    )
    assert result.amount.as_tuple().exponent == -2


@settings(max_examples=300, deadline=None)
@given(cost=money, extra=money, minutes=minutes, overseas=st.booleans(), granted=money)
def test_the_amount_is_monotone_in_cost(
    cost: Decimal, extra: Decimal, minutes: int, overseas: bool, granted: Decimal
) -> None:
    assert (
        calc(cost, minutes, overseas, granted).amount <= calc(cost + extra, minutes, overseas, granted).amount
    )


@settings(max_examples=300, deadline=None)
@given(
    cost=money,
    minutes=minutes,
    more=st.integers(min_value=0, max_value=500),
    overseas=st.booleans(),
    granted=money,
)
def test_the_amount_is_monotone_in_minutes(
    cost: Decimal, minutes: int, more: int, overseas: bool, granted: Decimal
) -> None:
    assert (
        calc(cost, minutes, overseas, granted).amount <= calc(cost, minutes + more, overseas, granted).amount
    )


@settings(max_examples=300, deadline=None)
@given(cost=money, minutes=minutes, granted=money)
def test_overseas_is_never_below_domestic(cost: Decimal, minutes: int, granted: Decimal) -> None:
    assert calc(cost, minutes, True, granted).amount >= calc(cost, minutes, False, granted).amount


@settings(max_examples=200, deadline=None)
@given(cost=money, minutes=minutes, overseas=st.booleans(), granted=money, more=money)
def test_more_granted_this_year_never_raises_the_amount(
    cost: Decimal, minutes: int, overseas: bool, granted: Decimal, more: Decimal
) -> None:
    assert (
        calc(cost, minutes, overseas, granted + more).amount <= calc(cost, minutes, overseas, granted).amount
    )
