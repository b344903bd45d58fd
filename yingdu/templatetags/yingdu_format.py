"""``money``: a CNY amount with thousands separators and two decimals (5,000,000.00).

Django's ``intcomma`` follows the active locale, and zh-hans groups no digits, so amounts
on the pages would read differently from the exported workbooks; this filter is exact
(``Decimal``, never float) and locale-independent. Every app's templates load it from here.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template

from yingdu.lib.money import round_half_up

register = template.Library()


@register.filter
def money(value: Any) -> str:
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    return f"{round_half_up(amount):,.2f}"
