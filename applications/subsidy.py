"""The one computation of an application's subsidy (row 25, docs/subsidy.md)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from applications.models import Application
from applications.money import kept_total
from policy.loader import PolicyParams, params_at
from policy.rules import SubsidyResult, calculate_subsidy


def subsidy_for(
    application: Application,
    day: dt.date,
    *,
    params: PolicyParams | None = None,
    granted: Decimal | None = None,
    total_compute_cost: Decimal | None = None,
    work_minutes: int | None = None,
    overseas: bool | None = None,
) -> SubsidyResult:
    """Row 25 under the policy in force on ``day``, with what the enterprise keeps of ``day``'s
    year counted against the annual cap (this application left out).

    The figures are the application's own unless given (the values a form holds for an
    estimate); ``params`` and ``granted`` may be passed when the caller already has them.
    """
    cost = application.total_compute_cost if total_compute_cost is None else total_compute_cost
    minutes = application.work_minutes if work_minutes is None else work_minutes
    assert cost is not None and minutes is not None, "the subsidy needs rows 22 and 23"
    if granted is None:
        granted = kept_total(application.enterprise_id, day.year, exclude_application_id=application.pk)
    return calculate_subsidy(
        total_compute_cost=cost,
        work_minutes=minutes,
        overseas=application.overseas if overseas is None else overseas,
        granted_this_year=granted,
        params=params or params_at(day),
    )
