"""Read-only selectors of the intake: the subsidy estimate with the quota left, and the timeline
(``applications.timeline``, re-exported here)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from applications.models import Application
from applications.money import kept_total
from applications.states import IN_REVIEW
from applications.subsidy import subsidy_for
from policy.loader import PolicyNotInForceError, PolicyParams, params_at
from policy.rules import SubsidyResult


@dataclass(frozen=True)
class Estimate:
    """Rows 24–25 for the values typed so far, and the enterprise's annual quota (三（三）)."""

    params: PolicyParams | None
    result: SubsidyResult | None
    annual_cap: Decimal | None
    granted: Decimal
    pending: Decimal  # requested by the enterprise's other applications still in review
    error: str = ""

    @property
    def quota_left(self) -> Decimal | None:
        if self.annual_cap is None:
            return None
        return max(self.annual_cap - self.granted, Decimal("0.00"))


def estimate(
    application: Application,
    *,
    total_compute_cost: Decimal | None,
    work_minutes: int | None,
    overseas: bool,
    day: dt.date | None = None,
) -> Estimate:
    """The subsidy under the policy in force on ``day`` (today for a draft, docs/subsidy.md)."""
    when = day or timezone.localdate()
    granted = kept_total(application.enterprise_id, when.year, exclude_application_id=application.pk)
    pending = Application.objects.filter(
        enterprise_id=application.enterprise_id, status__in=[s.value for s in IN_REVIEW]
    ).exclude(pk=application.pk).aggregate(total=Sum("requested_amount"))["total"] or Decimal("0.00")
    try:
        params = params_at(when)
    except PolicyNotInForceError as exc:
        return Estimate(None, None, None, granted, pending, error=str(exc))
    result = None
    if (
        total_compute_cost is not None
        and work_minutes is not None
        and total_compute_cost > 0
        and work_minutes > 0
    ):
        result = subsidy_for(
            application,
            when,
            params=params,
            granted=granted,
            total_compute_cost=total_compute_cost,
            work_minutes=work_minutes,
            overseas=overseas,
        )
    return Estimate(params, result, params.annual_cap, granted, pending)
