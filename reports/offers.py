"""The measured service of 达标即享 (docs/offers.md, docs/reports.md): per year, the share of submitted
applications that came from an offer, the median working days launch → submission → payment, and the
offers that expired untaken."""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from applications.models import Application, Offer
from applications.states import Status
from core.lib.workdays import UnknownYearError
from policy.calendar import get_calendar


def _median(values: list[int]) -> float | None:
    return float(statistics.median(values)) if values else None


def offer_service(year: int) -> dict[str, Any]:
    calendar = get_calendar()

    def workdays(a: dt.date | None, b: dt.date | None) -> int | None:
        if a is None or b is None:
            return None
        try:
            return calendar.workdays_between(a, b)
        except UnknownYearError:
            return None

    submitted = Application.objects.filter(submitted_at__year=year).exclude(status=Status.DRAFT)
    total = submitted.count()
    from_offer = list(submitted.filter(offer__isnull=False).only("launch_date", "submitted_at", "paid_at"))
    to_submission: list[int] = []
    to_payment: list[int] = []
    launch_to_payment: list[int] = []
    for app in from_offer:
        submitted_on = timezone.localdate(app.submitted_at) if app.submitted_at else None
        paid_on = timezone.localdate(app.paid_at) if app.paid_at else None
        for bucket, value in (
            (to_submission, workdays(app.launch_date, submitted_on)),
            (to_payment, workdays(submitted_on, paid_on)),
            (launch_to_payment, workdays(app.launch_date, paid_on)),
        ):
            if value is not None:
                bucket.append(value)
    counts = Offer.objects.filter(work__launch_date__year=year).aggregate(
        offers=Count("pk"),
        expired=Count("pk", filter=Q(status=Offer.Status.EXPIRED)),
        declined=Count("pk", filter=Q(status=Offer.Status.DECLINED)),
        pending=Count("pk", filter=Q(status=Offer.Status.PENDING)),
    )
    return {
        "offers": counts["offers"],
        "submitted": total,
        "from_offer": len(from_offer),
        "share_pct": round(100 * len(from_offer) / total, 1) if total else None,
        "median_launch_to_submission": _median(to_submission),
        "median_submission_to_payment": _median(to_payment),
        "median_launch_to_payment": _median(launch_to_payment),
        "expired": counts["expired"],
        "declined": counts["declined"],
        "pending": counts["pending"],
    }
