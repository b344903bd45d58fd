from __future__ import annotations

from decimal import Decimal

import pytest

from core.lib.money import CENT, format_money, round_half_up, to_money


def test_it_rounds_half_up_to_the_cent() -> None:
    assert round_half_up(Decimal("0.005")) == Decimal("0.01")
    assert round_half_up(Decimal("0.015")) == Decimal("0.02")
    assert round_half_up(Decimal("0.025")) == Decimal("0.03")  # banker's rounding would give 0.02
    assert round_half_up(Decimal("3703.701")) == Decimal("3703.70")
    assert round_half_up(Decimal("-0.005")) == Decimal("-0.01")
    assert round_half_up(Decimal("12"), CENT) == Decimal("12.00")


def test_it_rounds_to_another_quantum() -> None:
    assert round_half_up(Decimal("2.5"), Decimal("1")) == Decimal("3")


def test_to_money_parses_strings_ints_and_decimals_exactly() -> None:
    assert to_money("50,000") == Decimal("50000.00")
    assert to_money(" ¥1234.5 ") == Decimal("1234.50")
    assert to_money(7) == Decimal("7.00")
    assert to_money(Decimal("0.10")) == Decimal("0.10")


@pytest.mark.parametrize("bad", ["abc", "1.234", "NaN", "Infinity", ""])
def test_to_money_refuses_what_is_not_an_amount(bad: str) -> None:
    with pytest.raises(ValueError):
        to_money(bad)


def test_to_money_refuses_floats() -> None:
    with pytest.raises(TypeError):
        to_money(0.1)  # type: ignore[arg-type]


def test_format_money_has_two_decimals() -> None:
    assert format_money(Decimal("12000")) == "12000.00"
