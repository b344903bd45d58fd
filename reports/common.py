"""Small helpers the report queries share: money rounding, the policy-local date, year filters."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from applications.models import Application
from core.lib.money import round_half_up
from policy.queries import POLICY_TZ, year_bounds

ZERO = Decimal("0.00")
MONTHS = range(1, 13)


def money(value: Decimal | None) -> Decimal:
    return round_half_up(value) if value is not None else ZERO


def local_date(value: dt.datetime | None) -> dt.date | None:
    return timezone.localtime(value, POLICY_TZ).date() if value is not None else None


def local_date_of(field_name: str) -> TruncDate:
    """:func:`local_date` of a moment field, worked out by the database: the date in the policy's
    time zone, read as a plain date (rows read by the ten thousand need not parse each moment)."""
    return TruncDate(field_name, tzinfo=POLICY_TZ)


def in_year(field_name: str, year: int) -> Q:
    start, end = year_bounds(year)
    return Q(**{f"{field_name}__gte": start, f"{field_name}__lt": end})


def pct(part: Decimal | int, whole: Decimal | int) -> float | None:
    if not whole:
        return None
    return float(round(Decimal(part) * 100 / Decimal(whole), 1))


def applications_of_year(year: int) -> models.QuerySet[Application]:
    """Applications submitted in ``year``, and drafts created in it."""
    return Application.objects.annotate(day=Coalesce("submitted_at", "created_at")).filter(
        in_year("day", year)
    )
