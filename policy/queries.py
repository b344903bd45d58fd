"""Read-only selectors of the policy app."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.apps import apps
from django.db.models import Sum

# Policy years are calendar years in Beijing time (docs/subsidy.md: "same calendar year (submission year)").
POLICY_TZ = ZoneInfo("Asia/Shanghai")


def year_bounds(year: int) -> tuple[dt.datetime, dt.datetime]:
    """Aware datetimes [1 January 00:00, next 1 January 00:00) of ``year`` in Asia/Shanghai."""
    return dt.datetime(year, 1, 1, tzinfo=POLICY_TZ), dt.datetime(year + 1, 1, 1, tzinfo=POLICY_TZ)


# The sums of the applications' money records (``Application.paid_amount`` and the rest): the
# one definition every figure of quota, budget and reports is read through.
MONEY_FIELDS = {
    "granted": "granted_amount",
    "paid": "paid_amount",
    "clawed_back": "clawed_back_amount",
    "repaid": "repaid_amount",
    "written_off": "written_off_amount",
}
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Money:
    """Money figures summed over applications' money records.

    kept = granted − clawed back (what counts against the annual cap, 三（三）);
    outstanding = clawed back − repaid − written off (the open receivable, 五 4).
    """

    granted: Decimal = ZERO
    paid: Decimal = ZERO
    clawed_back: Decimal = ZERO
    repaid: Decimal = ZERO
    written_off: Decimal = ZERO

    @property
    def kept(self) -> Decimal:
        return self.granted - self.clawed_back

    @property
    def outstanding(self) -> Decimal:
        return self.clawed_back - self.repaid - self.written_off

    def as_dict(self) -> dict[str, Decimal]:
        return {
            **{name: getattr(self, name) for name in MONEY_FIELDS},
            "kept": self.kept,
            "outstanding": self.outstanding,
        }


def money_sums() -> dict[str, Sum]:
    """The aggregate expressions of :class:`Money`, for ``.aggregate()`` or ``.annotate()``."""
    return {name: Sum(column) for name, column in MONEY_FIELDS.items()}


def money_of(row: Mapping[str, Any]) -> Money:
    """A :class:`Money` from the result of ``money_sums()`` (``None`` sums are zero)."""
    return Money(**{name: (row.get(name) or ZERO).quantize(Decimal("0.01")) for name in MONEY_FIELDS})


def enterprise_year_money(
    enterprise_id: int, year: int, *, exclude_application_id: int | None = None
) -> Money:
    """The enterprise-year money record: the sums over the enterprise's applications *submitted* in
    ``year`` (Beijing time), the year whose annual cap they count against (三（三）)."""
    # Looked up lazily: the applications app depends on this one, not the other way round.
    application = apps.get_model("applications", "Application")
    start, end = year_bounds(year)
    qs = application.objects.filter(
        enterprise_id=enterprise_id,
        submitted_at__gte=start,
        submitted_at__lt=end,
        granted_amount__isnull=False,
    )
    if exclude_application_id is not None:
        qs = qs.exclude(pk=exclude_application_id)
    return money_of(qs.aggregate(**money_sums()))


def kept_total(enterprise_id: int, year: int, *, exclude_application_id: int | None = None) -> Decimal:
    """What the enterprise keeps of its awards of a calendar year, for the annual cap (三（三）).

    Granted less clawed back, over the enterprise's applications submitted in ``year`` and,
    when given, without the application being decided. An application without a granted
    amount (not yet finally approved) counts nothing; a partial clawback frees only its part.
    """
    return enterprise_year_money(enterprise_id, year, exclude_application_id=exclude_application_id).kept
