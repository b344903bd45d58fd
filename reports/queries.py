"""Read-only selectors behind the center's dashboard and exports (docs/reports.md).

Every function takes a calendar ``year`` (Beijing time) and returns plain data: lists and dicts
of ints, ``Decimal`` money and strings, ready for a template, ``json_script`` or a sheet. They
read the ORM with a fixed number of queries whatever the number of applications, so the
dashboard stays fast as the years fill up (``tests/test_dashboard.py`` pins the count).

Which year a figure belongs to:

- applications by state: the submission date, or the creation date for drafts;
- submitted / requested: the submission date; granted: the final approval date;
  paid: the payment date (the budget is spent when money leaves, granted when it is committed);
- deadline compliance: the applications received in the year (a cohort), followed to payment;
- usage: the start of the usage record; findings: the day the finding was opened.

The review, monitoring and audits apps are optional here: a function whose app or model is
not installed returns an empty result instead of failing, so the reports work on a trimmed
deployment and while those apps are being built.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import Count, Sum
from django.db.models.functions import ExtractMonth, ExtractYear
from django.utils import timezone
from django.utils.translation import gettext as _

from applications.models import Application
from applications.money import kept_total
from applications.states import GRANTED, IN_REVIEW, Status
from audits.models import Finding, Repayment
from core.lib.money import round_half_up
from core.models import Notification
from monitoring.models import Scenario, UsageRecord
from policy.loader import PolicyNotInForceError, params_at
from policy.queries import POLICY_TZ, year_bounds
from reports.common import MONTHS, ZERO, applications_of_year, in_year, money, pct
from reports.compliance import OPEN, OVERDUE, deadline_compliance
from reports.offers import offer_service
from reports.ratings import ratings_summary
from reports.usage_spend import usage_spend

# --- years -------------------------------------------------------------------------------------


def available_years(today: dt.date | None = None, *, shown: int | None = None) -> list[int]:
    """Years with submitted applications, the current year and the year ``shown``, newest first
    (the year filter: the year on the page is always the selected option)."""
    today = today or timezone.localdate()
    years = set(
        Application.objects.filter(submitted_at__isnull=False)
        .annotate(y=ExtractYear("submitted_at", tzinfo=POLICY_TZ))
        .values_list("y", flat=True)
        .distinct()
    )
    years.add(today.year)
    if shown is not None:
        years.add(shown)
    return sorted(years, reverse=True)


# --- applications ------------------------------------------------------------------------------


def applications_by_state(year: int) -> list[dict[str, Any]]:
    """Every state in workflow order with its count (zeros included, so charts keep their order)."""
    counts = dict(applications_of_year(year).values_list("status").annotate(n=Count("id")).order_by())
    return [{"code": s.value, "label": str(s.label), "count": counts.get(s.value, 0)} for s in Status]


def _zero_months() -> dict[int, Any]:
    return dict.fromkeys(MONTHS, 0)


def _by_month(
    qs: models.QuerySet[Any], date_field: str, aware: bool, **sums: Any
) -> dict[str, dict[int, Any]]:
    """Per month of ``date_field`` (Beijing time for a datetime), a count ``n`` and each sum."""
    month = ExtractMonth(date_field, tzinfo=POLICY_TZ) if aware else ExtractMonth(date_field)
    out: dict[str, dict[int, Any]] = {"n": _zero_months()} | {k: dict.fromkeys(MONTHS, ZERO) for k in sums}
    for row in qs.annotate(m=month).values("m").annotate(n=Count("id"), **sums).order_by():
        out["n"][row["m"]] = row["n"]
        for key in sums:
            out[key][row["m"]] = money(row[key])
    return out


def monthly(year: int) -> dict[str, list[Any]]:
    """Counts and amounts per month, all read from the applications' money records.

    - submitted / requested: by submission date;
    - approved / granted: by final approval date, every award granted (a later clawback is
      its own figure, it does not rewrite the grant);
    - paid: by payment date: money that left the budget;
    - clawed back (receivables opened) and outstanding (what of them is still open): by the
      clawback's date; repaid: by the date each instalment arrived; written off: by its date.

    Each total is the sum of its months (:func:`totals_of`).
    """
    submitted = _by_month(
        Application.objects.filter(in_year("submitted_at", year)),
        "submitted_at",
        True,
        amount=Sum("requested_amount"),
    )
    approved = _by_month(
        Application.objects.filter(in_year("approved_at", year), granted_amount__isnull=False),
        "approved_at",
        True,
        amount=Sum("granted_amount"),
    )
    paid = _by_month(
        Application.objects.filter(payment__date__year=year, paid_amount__gt=0),
        "payment__date",
        False,
        amount=Sum("paid_amount"),
    )
    clawed = _by_month(
        Application.objects.filter(in_year("clawback__created_at", year)),
        "clawback__created_at",
        True,
        amount=Sum("clawed_back_amount"),
        outstanding=Sum(
            models.F("clawed_back_amount") - models.F("repaid_amount") - models.F("written_off_amount")
        ),
    )
    written_off = _by_month(
        Application.objects.filter(in_year("clawback__written_off_at", year)),
        "clawback__written_off_at",
        True,
        amount=Sum("written_off_amount"),
    )["amount"]
    repaid = _by_month(Repayment.objects.filter(date__year=year), "date", False, amount=Sum("amount"))["amount"]

    def cumulative(values: dict[int, Decimal]) -> list[Decimal]:
        total, out = ZERO, []
        for m in MONTHS:
            total += values[m]
            out.append(total)
        return out

    return {
        "submitted": [submitted["n"][m] for m in MONTHS],
        "approved": [approved["n"][m] for m in MONTHS],
        "paid_count": [paid["n"][m] for m in MONTHS],
        "requested": [submitted["amount"][m] for m in MONTHS],
        "granted": [approved["amount"][m] for m in MONTHS],
        "paid": [paid["amount"][m] for m in MONTHS],
        "clawed_back": [clawed["amount"][m] for m in MONTHS],
        "repaid": [repaid[m] for m in MONTHS],
        "written_off": [written_off[m] for m in MONTHS],
        "outstanding": [clawed["outstanding"][m] for m in MONTHS],
        "granted_cumulative": cumulative(approved["amount"]),
        "paid_cumulative": cumulative(paid["amount"]),
    }


# The columns of :func:`monthly` that are counts and amounts (summed into a total), in order.
MONTHLY_COUNTS = ("submitted", "approved", "paid_count")
MONTHLY_AMOUNTS = ("requested", "granted", "paid", "clawed_back", "repaid", "written_off", "outstanding")


def totals_of(month: dict[str, list[Any]]) -> dict[str, Any]:
    """The year's totals: each is the sum of its monthly row, nothing computed apart."""
    return {key: sum(month[key]) for key in MONTHLY_COUNTS} | {
        key: sum(month[key], ZERO) for key in MONTHLY_AMOUNTS
    }


def budget_use(
    year: int, granted: Decimal, paid: Decimal, clawed_back: Decimal = ZERO, repaid: Decimal = ZERO
) -> dict[str, Any] | None:
    """The year's budget (``reports/budget.yaml``), the share granted and paid, and what is left:
    budget − granted + repaid. Only money actually returned comes back to the budget: a clawback
    not yet repaid (or written off) is a receivable, not funds."""
    from reports.budget import budget_for

    budget = budget_for(year)
    if budget is None:
        return None
    return {
        "amount": budget.amount,
        "reference": budget.reference,
        "granted": granted,
        "paid": paid,
        "clawed_back": clawed_back,
        "repaid": repaid,
        "left": budget.amount - granted + repaid,
        "granted_pct": pct(granted, budget.amount),
        "paid_pct": pct(paid, budget.amount),
    }


# --- compute usage -----------------------------------------------------------------------------


def _usage_rows(year: int, group: Iterable[str]) -> list[dict[str, Any]]:
    return list(
        UsageRecord.objects.filter(in_year("started_at", year))
        .values(*group)
        .annotate(records=Count("id"), gpu_seconds=Sum("gpu_seconds"), cost=Sum("cost_cny"))
        .order_by()
    )


def _hours(seconds: float | None) -> float:
    return round((seconds or 0) / 3600, 2)


def usage_by_provider(year: int) -> list[dict[str, Any]]:
    """GPU hours, records and cost per compute provider, largest first."""
    rows = [
        {
            "name": row["provider__name"],
            "records": row["records"],
            "gpu_hours": _hours(row["gpu_seconds"]),
            "cost": money(row["cost"]),
        }
        for row in _usage_rows(year, ["provider_id", "provider__name"])
    ]
    return sorted(rows, key=lambda r: (-r["gpu_hours"], r["name"]))


def usage_by_scenario(year: int) -> list[dict[str, Any]]:
    """GPU hours, records and cost per usage scenario (文生视频, 渲染, …), largest first."""
    labels = {str(k): str(v) for k, v in Scenario.choices}
    rows = [
        {
            "code": row["scenario"],
            "label": labels.get(row["scenario"], row["scenario"]),
            "records": row["records"],
            "gpu_hours": _hours(row["gpu_seconds"]),
            "cost": money(row["cost"]),
        }
        for row in _usage_rows(year, ["scenario"])
    ]
    return sorted(rows, key=lambda r: (-r["gpu_hours"], r["code"]))


def usage_by_provider_and_scenario(year: int) -> list[dict[str, Any]]:
    """The export's detail: one row per provider and scenario."""
    labels = {str(k): str(v) for k, v in Scenario.choices}
    rows = [
        {
            "provider": row["provider__name"],
            "scenario": labels.get(row["scenario"], row["scenario"]),
            "records": row["records"],
            "gpu_hours": _hours(row["gpu_seconds"]),
            "cost": money(row["cost"]),
        }
        for row in _usage_rows(year, ["provider__name", "scenario"])
    ]
    return sorted(rows, key=lambda r: (r["provider"], r["scenario"]))


# --- audit findings ----------------------------------------------------------------------------


def findings_of_year(year: int) -> models.QuerySet[Finding]:
    return Finding.objects.filter(in_year("created_at", year))


def findings_by_status(year: int) -> list[dict[str, Any]]:
    """Audit findings opened in ``year`` per status, in the order the audits app declares them."""
    qs = findings_of_year(year)
    counts = dict(qs.values_list("status").annotate(n=Count("pk")).order_by())
    status_field = qs.model._meta.get_field("status")
    choices = [(str(k), str(v)) for k, v in getattr(status_field, "flatchoices", [])]
    known = {code for code, _label in choices}
    out = [{"code": code, "label": label, "count": counts.get(code, 0)} for code, label in choices]
    out += [{"code": code, "label": code, "count": n} for code, n in counts.items() if code not in known]
    return out


# --- the whole dashboard -----------------------------------------------------------------------


def dashboard(year: int, today: dt.date | None = None) -> dict[str, Any]:
    """Everything the center's dashboard shows for one year, as JSON-ready data (money as strings)."""
    today = today or timezone.localdate()
    by_state = applications_by_state(year)
    month = monthly(year)
    totals = totals_of(month)
    compliance = deadline_compliance(year, today)
    counts = {row["code"]: row["count"] for row in by_state}
    findings = findings_by_status(year)
    data: dict[str, Any] = {
        "year": year,
        "months": [_("%(month)s月") % {"month": m} for m in MONTHS],
        "by_state": by_state,
        "monthly": month,
        "totals": {
            **totals,
            "in_review": sum(counts.get(s.value, 0) for s in IN_REVIEW),
            # By state of the applications submitted in the year; 已审批 counts every award,
            # 追回 those partly or wholly clawed back since (so no application drops out).
            "approved": sum(counts.get(s.value, 0) for s in GRANTED),
            "clawed_back_count": counts.get(Status.PARTIALLY_CLAWED_BACK.value, 0)
            + counts.get(Status.CLAWED_BACK.value, 0),
            "rejected": counts.get(Status.REJECTED.value, 0),
        },
        "budget": budget_use(
            year, totals["granted"], totals["paid"], totals["clawed_back"], totals["repaid"]
        ),
        "compliance": {
            "review": compliance.summary("review"),
            "payment": compliance.summary("payment"),
            "cycle": compliance.summary("cycle"),
        },
        "overdue": [
            {
                "application_id": r.application_id,
                "reference": r.reference,
                "enterprise": r.enterprise_name,
                "status": str(Status(r.status).label),
                "review_deadline": r.review_deadline,
                "payment_deadline": r.payment_deadline if r.payment == OVERDUE else None,
                "provisional": r.provisional,
                "provisional_reason": r.provisional_reason,
            }
            for r in compliance.overdue()
        ],
        # Deadlines still running, each with "provisional": true when a year without an official
        # holiday schedule decided it (暂定).
        "open_deadlines": [
            {
                "application_id": r.application_id,
                "reference": r.reference,
                "enterprise": r.enterprise_name,
                "status": str(Status(r.status).label),
                "review_deadline": r.review_deadline if r.review == OPEN else None,
                "payment_deadline": r.payment_deadline if r.payment == OPEN else None,
                "cycle_deadline": r.cycle_deadline if r.cycle == OPEN else None,
                "provisional": r.provisional,
                "provisional_reason": r.provisional_reason,
            }
            for r in compliance.rows
            if r.is_open
        ],
        "providers": usage_by_provider(year),
        "scenarios": usage_by_scenario(year),
        "findings": findings,
        "ratings": ratings_summary(year, today),
        "spend": usage_spend(year),
        "offers": offer_service(year),
    }
    money_keys = ("granted", "paid", "clawed_back", "repaid", "written_off", "outstanding")
    data["money_rows"] = [
        {"month": data["months"][i], **{key: month[key][i] for key in money_keys}} for i in range(len(MONTHS))
    ]
    data["money_total"] = {key: totals[key] for key in money_keys}
    data["has"] = {
        "applications": any(row["count"] for row in by_state),
        "amounts": any(any(month[key]) for key in MONTHLY_AMOUNTS),
        "compliance": bool(compliance.rows),
        "providers": bool(data["providers"]),
        "scenarios": bool(data["scenarios"]),
        "findings": any(row["count"] for row in findings),
        "spend": bool(data["spend"]),
    }
    out: dict[str, Any] = jsonable(data)
    return out


def jsonable(value: Any) -> Any:
    """Money as two-decimal strings and dates as ISO strings, recursively (charts parse them)."""
    if isinstance(value, Decimal):
        return str(round_half_up(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


# --- the enterprise's own view -----------------------------------------------------------------


def enterprise_overview(enterprise_id: int, user: Any, today: dt.date | None = None) -> dict[str, Any]:
    """An enterprise's applications, its quota left this year and the user's unread notices.

    Quota left = the annual cap in force today − what the enterprise keeps of the year's awards
    (granted less clawed back, 三（三）), the same figure submission and approval use; amounts still under review are listed apart because they
    may still be granted and use up the quota.
    """
    today = today or timezone.localdate()
    applications = list(
        Application.objects.filter(enterprise_id=enterprise_id).select_related("provider").order_by("-id")
    )
    start, end = year_bounds(today.year)
    pending = sum(
        (
            a.requested_amount or ZERO
            for a in applications
            if a.status in IN_REVIEW and a.submitted_at is not None and start <= a.submitted_at < end
        ),
        ZERO,
    )
    quota: dict[str, Any] = {
        "year": today.year,
        "cap": None,
        "granted": None,
        "left": None,
        "pending": pending,
    }
    try:
        # What the enterprise keeps (granted less clawed back): the figure the annual cap counts.
        quota["granted"] = kept_total(enterprise_id, today.year)
        quota["cap"] = money(params_at(today).annual_cap)
        quota["left"] = max(quota["cap"] - quota["granted"], ZERO)
        quota["used_pct"] = pct(quota["granted"], quota["cap"])
    except PolicyNotInForceError as exc:
        quota["error"] = str(exc)

    mine = Notification.objects.filter(user=user)
    unread = mine.filter(read_at__isnull=True).count()
    notices = list(mine.order_by("-created_at", "-id")[:5])
    return {
        "applications": applications,
        "quota": quota,
        "notices": notices,
        "unread": unread,
    }
