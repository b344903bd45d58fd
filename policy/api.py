"""Policy API (mounted at /api/v1/policy/): the subsidy estimate and the parameters in force."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router

from core.apierrors import ErrorsOut, FieldError
from core.lib.money import MAX_AMOUNT, round_half_up
from policy.loader import PolicyNotInForceError, PolicyParams, params_at
from policy.rules import calculate_subsidy

router = Router(tags=["policy"])
MAX_MINUTES = 2**31 - 1  # the work-minutes column is a 32-bit integer


def _params(day: dt.date | None) -> PolicyParams:
    try:
        return params_at(day or timezone.localdate())
    except PolicyNotInForceError as exc:
        raise FieldError("date", str(exc)) from exc


@router.get("/calc", summary="补贴测算", response={200: dict[str, Any], 422: ErrorsOut})
def calc(
    request: HttpRequest,
    cost: Decimal,
    minutes: int,
    overseas: bool = False,
    granted_this_year: Decimal = Decimal("0"),
    date: dt.date | None = None,
) -> dict[str, Any]:
    """The subsidy for one work, with its breakdown; money as two-decimal strings."""
    for name, amount in (("cost", cost), ("granted_this_year", granted_this_year)):
        if not amount.is_finite() or not 0 <= amount <= MAX_AMOUNT or amount != round_half_up(amount):
            raise FieldError(name, _("金额须在 0 至 999,999,999,999.99 之间，至多两位小数"))
    if not 0 <= minutes <= MAX_MINUTES:
        raise FieldError("minutes", _("作品制作时长须在 0 至 %(max)d 分钟之间") % {"max": MAX_MINUTES})
    result = calculate_subsidy(
        total_compute_cost=cost,
        work_minutes=minutes,
        overseas=overseas,
        granted_this_year=granted_this_year,
        params=_params(date),
    )
    return result.as_dict()


@router.get("/params", summary="某日生效的政策参数", response={200: dict[str, Any], 422: ErrorsOut})
def params(request: HttpRequest, date: dt.date | None = None) -> dict[str, Any]:
    return _params(date).as_dict()
