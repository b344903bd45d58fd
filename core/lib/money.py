"""Money helpers: CNY amounts are ``Decimal`` with two decimals.

The policy (中国影都AI算力补助实施办法) does not say how to round a subsidy computed as a
percentage of a cost; the platform rounds half up to the cent (四舍五入到分), the way
Chinese finance offices round. All rounding of money goes through :func:`round_half_up`
so there is exactly one place to change it.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
# The largest amount the platform's money columns hold (14 digits, two of them decimals).
MAX_AMOUNT = Decimal("999999999999.99")


def round_half_up(value: Decimal, quantum: Decimal = CENT) -> Decimal:
    """Round ``value`` half up (away from zero on ties) to ``quantum``, 0.01 by default."""
    return value.quantize(quantum, rounding=ROUND_HALF_UP)


def to_money(value: str | int | Decimal) -> Decimal:
    """Parse a CNY amount exactly: an ``int``, a ``Decimal`` or a string like ``"1,234.50"``.

    Floats are refused on purpose (0.1 + 0.2 is not 0.3 in binary floating point). The result has
    exactly two decimals; an amount with more than two decimals, or not a finite number, is a
    ``ValueError`` rather than being silently rounded.
    """
    if isinstance(value, (bool, float)):
        raise TypeError(f"money must be given as str, int or Decimal, not {type(value).__name__}")
    if isinstance(value, str):
        text = value.strip().replace(",", "").replace("，", "")
        text = text.removeprefix("¥").removeprefix("￥").strip()
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"not an amount: {value!r}") from None
    else:
        amount = Decimal(value)
    if not amount.is_finite() or abs(amount) > MAX_AMOUNT:
        raise ValueError(f"not an amount: {value!r}")
    rounded = round_half_up(amount)
    if rounded != amount:
        raise ValueError(f"more than two decimals: {value!r}")
    return rounded


def format_money(value: Decimal) -> str:
    """Two-decimal string without thousands separators, as used in JSON and CSV ("12000.00")."""
    return str(round_half_up(value))


def display_money(value: Decimal) -> str:
    """Money for people: thousands separators and two decimals ("12,000.00"), on every page,
    e-mail and message (the ``money`` template filter calls this)."""
    return f"{round_half_up(value):,.2f}"
