"""Read-only selectors of the policy app."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.apps import apps
from django.db.models import Sum

# Policy years are calendar years in Beijing time (docs/subsidy.md: "same calendar year (submission year)").
POLICY_TZ = ZoneInfo("Asia/Shanghai")


def year_bounds(year: int) -> tuple[dt.datetime, dt.datetime]:
    """Aware datetimes [1 January 00:00, next 1 January 00:00) of ``year`` in Asia/Shanghai."""
    return dt.datetime(year, 1, 1, tzinfo=POLICY_TZ), dt.datetime(year + 1, 1, 1, tzinfo=POLICY_TZ)


def granted_total(enterprise_id: int, year: int, *, exclude_application_id: int | None = None) -> Decimal:
    """The enterprise's granted subsidy in a calendar year, for the annual cap (三（三）).

    Sums ``granted_amount`` of the enterprise's applications *submitted* in ``year`` (Beijing
    time), leaving out clawed-back awards and, when given, the application being decided. An
    application without a granted amount (not yet finally approved) counts nothing.
    """
    # Looked up lazily: the applications app depends on this one, not the other way round.
    application = apps.get_model("applications", "Application")
    start, end = year_bounds(year)
    qs = application.objects.filter(
        enterprise_id=enterprise_id,
        submitted_at__gte=start,
        submitted_at__lt=end,
        granted_amount__isnull=False,
    ).exclude(status="clawed_back")
    if exclude_application_id is not None:
        qs = qs.exclude(pk=exclude_application_id)
    total = qs.aggregate(total=Sum("granted_amount"))["total"]
    return (total or Decimal("0")).quantize(Decimal("0.01"))
