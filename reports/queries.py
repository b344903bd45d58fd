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
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce, ExtractMonth, ExtractYear
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from applications.models import Application
from applications.states import GRANTED, IN_REVIEW, Status
from policy import calendar as policy_calendar
from policy.loader import PolicyNotInForceError, params_at
from policy.queries import POLICY_TZ, kept_total, year_bounds
from yingdu.lib.money import round_half_up
from yingdu.lib.workdays import UnknownYearError

ZERO = Decimal("0.00")
MONTHS = range(1, 13)


def optional_model(app_label: str, model_name: str) -> type[models.Model] | None:
    """A model of an optional app, or ``None`` when the app or the model is not installed."""
    try:
        return apps.get_model(app_label, model_name)
    except LookupError:
        return None


def has_field(model: type[models.Model], name: str) -> bool:
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


def money(value: Decimal | None) -> Decimal:
    return round_half_up(value) if value is not None else ZERO


def local_date(value: dt.datetime | None) -> dt.date | None:
    return timezone.localtime(value, POLICY_TZ).date() if value is not None else None


def _in_year(field_name: str, year: int) -> Q:
    start, end = year_bounds(year)
    return Q(**{f"{field_name}__gte": start, f"{field_name}__lt": end})


# --- years -------------------------------------------------------------------------------------


def available_years(today: dt.date | None = None) -> list[int]:
    """Years with submitted applications, and the current year, newest first (the year filter)."""
    today = today or timezone.localdate()
    years = set(
        Application.objects.filter(submitted_at__isnull=False)
        .annotate(y=ExtractYear("submitted_at", tzinfo=POLICY_TZ))
        .values_list("y", flat=True)
        .distinct()
    )
    years.add(today.year)
    return sorted(years, reverse=True)


# --- applications ------------------------------------------------------------------------------


def applications_of_year(year: int) -> models.QuerySet[Application]:
    """Applications submitted in ``year``, and drafts created in it."""
    return Application.objects.annotate(day=Coalesce("submitted_at", "created_at")).filter(
        _in_year("day", year)
    )


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
        Application.objects.filter(_in_year("submitted_at", year)),
        "submitted_at",
        True,
        amount=Sum("requested_amount"),
    )
    approved = _by_month(
        Application.objects.filter(_in_year("approved_at", year), granted_amount__isnull=False),
        "approved_at",
        True,
        amount=Sum("granted_amount"),
    )
    payment = optional_model("review", "Payment")
    if payment is not None:
        paid = _by_month(
            Application.objects.filter(payment__date__year=year, paid_amount__gt=0),
            "payment__date",
            False,
            amount=Sum("paid_amount"),
        )
    else:
        paid = _by_month(
            Application.objects.filter(_in_year("paid_at", year), paid_amount__gt=0),
            "paid_at",
            True,
            amount=Sum("paid_amount"),
        )
    clawed = {"amount": dict.fromkeys(MONTHS, ZERO), "outstanding": dict.fromkeys(MONTHS, ZERO)}
    repaid = dict.fromkeys(MONTHS, ZERO)
    written_off = dict.fromkeys(MONTHS, ZERO)
    if optional_model("audits", "Clawback") is not None:
        clawed = _by_month(
            Application.objects.filter(_in_year("clawback__created_at", year)),
            "clawback__created_at",
            True,
            amount=Sum("clawed_back_amount"),
            outstanding=Sum(
                models.F("clawed_back_amount") - models.F("repaid_amount") - models.F("written_off_amount")
            ),
        )
        written_off = _by_month(
            Application.objects.filter(_in_year("clawback__written_off_at", year)),
            "clawback__written_off_at",
            True,
            amount=Sum("written_off_amount"),
        )["amount"]
        repayment = optional_model("audits", "Repayment")
        assert repayment is not None
        repaid = _by_month(
            repayment._default_manager.filter(date__year=year), "date", False, amount=Sum("amount")
        )["amount"]

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
    year: int, granted: Decimal, paid: Decimal, clawed_back: Decimal = ZERO
) -> dict[str, Any] | None:
    """The year's budget (``reports/budget.yaml``), the share granted and paid, and what is left:
    budget − granted + clawed back (a clawed-back award no longer commits the budget)."""
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
        "left": budget.amount - granted + clawed_back,
        "granted_pct": _pct(granted, budget.amount),
        "paid_pct": _pct(paid, budget.amount),
    }


def _pct(part: Decimal | int, whole: Decimal | int) -> float | None:
    if not whole:
        return None
    return float(round(Decimal(part) * 100 / Decimal(whole), 1))


# --- deadline compliance -----------------------------------------------------------------------

ON_TIME = "on_time"
LATE = "late"
OPEN = "open"
OVERDUE = "overdue"
UNKNOWN = "unknown"
NOT_APPLICABLE = ""

OUTCOME_LABELS = {
    ON_TIME: gettext_lazy("按期"),
    LATE: gettext_lazy("超期"),
    OPEN: gettext_lazy("办理中"),
    OVERDUE: gettext_lazy("已超期未办结"),
    UNKNOWN: gettext_lazy("无法计算"),
    NOT_APPLICABLE: "—",
}


def outcome_label(code: str) -> str:
    return str(OUTCOME_LABELS[code])


@dataclass
class DeadlineRow:
    """One application's deadlines and outcomes (docs/deadlines.md)."""

    application_id: int
    reference: str
    enterprise_name: str
    status: str
    received: dt.date
    review_deadline: dt.date | None = None
    decided: dt.date | None = None
    review: str = UNKNOWN
    approved: dt.date | None = None
    payment_deadline: dt.date | None = None
    paid: dt.date | None = None
    payment: str = NOT_APPLICABLE
    cycle_deadline: dt.date | None = None
    cycle: str = NOT_APPLICABLE
    note: str = ""
    # Years without an official schedule that decided a deadline of the row (暂定).
    provisional_years: tuple[int, ...] = ()

    @property
    def provisional(self) -> bool:
        return bool(self.provisional_years)

    @property
    def provisional_reason(self) -> str:
        from policy.calendar import provisional_reason

        return provisional_reason(self.provisional_years)

    @property
    def is_open(self) -> bool:
        return OPEN in (self.review, self.payment, self.cycle)


@dataclass
class Compliance:
    rows: list[DeadlineRow] = field(default_factory=list)

    def summary(self, attr: str) -> dict[str, Any]:
        """Counts of each outcome and the on-time share.

        The share is on time / (on time + late + overdue and still open): work that has already
        missed its deadline counts against compliance before it is finished.
        """
        counts = {code: 0 for code in (ON_TIME, LATE, OPEN, OVERDUE, UNKNOWN)}
        for row in self.rows:
            code = getattr(row, attr)
            if code in counts:
                counts[code] += 1
        decided = counts[ON_TIME] + counts[LATE] + counts[OVERDUE]
        return {**counts, "measured": decided, "rate_pct": _pct(counts[ON_TIME], decided)}

    def overdue(self) -> list[DeadlineRow]:
        return [r for r in self.rows if OVERDUE in (r.review, r.payment, r.cycle)]


def deadline_compliance(year: int, today: dt.date | None = None) -> Compliance:
    """Review, payment and whole-cycle compliance of the applications received in ``year``.

    - review: the final decision (approval or rejection) by ``review_deadline`` — 10 working days
      after receipt, extended by supplement time (四（四）1);
    - payment: the payment date by ``payment_deadline`` — 20 working days after approval (四（四）2);
    - cycle: receipt to payment within ``cycle_deadline`` — 30 working days less supplement time (四（四）3).

    The parameters are those in force on the submission date. An application whose dates fall
    in a year without a holiday schedule is counted as "无法计算", never guessed. Applications
    never claimed are taken as received on their submission day.
    """
    today = today or timezone.localdate()

    start, end = year_bounds(year)
    received_q = Q(received_date__year=year) | Q(
        received_date__isnull=True, submitted_at__gte=start, submitted_at__lt=end
    )
    cohort_qs = Application.objects.filter(received_q, submitted_at__isnull=False).exclude(
        status__in=[Status.DRAFT, Status.WITHDRAWN]
    )
    # Plain rows, not model instances: building ten thousand instances costs more than the rest.
    fields = ["pk", "reference", "enterprise_name", "enterprise__name", "status", "submitted_at"]
    fields += ["received_date", "approved_at", "paid_at"]
    payment_model = optional_model("review", "Payment")
    if payment_model is not None:
        fields.append("payment__date")
    cohort = list(cohort_qs.values(*fields))
    cohort_ids = cohort_qs.values("pk")  # a subquery, so no list of ids is ever sent

    pauses: dict[int, list[tuple[dt.date, dt.date | None]]] = defaultdict(list)
    notice_model = optional_model("review", "SupplementNotice")
    if notice_model is not None and cohort:
        for app_id, notice_date, resubmitted in notice_model._default_manager.filter(
            application_id__in=cohort_ids
        ).values_list("application_id", "notice_date", "resubmitted_date"):
            pauses[app_id].append((notice_date, resubmitted))

    rejected_on: dict[int, dt.date | None] = {}
    step_model = optional_model("review", "ReviewStep")
    if step_model is not None and cohort:
        rejected_on = {
            app_id: local_date(at)
            for app_id, at in step_model._default_manager.filter(
                application_id__in=cohort_ids, status_after=Status.REJECTED
            )
            .values_list("application_id")
            .annotate(at=models.Max("at"))
            .order_by()
        }

    state = policy_calendar.get_state()
    # A year's applications share few distinct days: deadlines are memoised per (day, policy
    # version) so a year of thousands of applications costs hundreds of calendar walks, not thousands.
    params_of: dict[dt.date, Any] = {}
    memo: dict[tuple[str, dt.date, str], Any] = {}

    def params_for(day: dt.date) -> Any:
        if day not in params_of:
            params_of[day] = params_at(day)
        return params_of[day]

    def settled(kind: str, day: dt.date, params: Any, app_pauses: list[Any]) -> Any:
        # The center's deadlines, settled like the review clock's (暂定; the earlier after a load).
        if kind == "review":
            return policy_calendar.review_due(day, app_pauses, params, today=today, state=state)
        if kind == "payment":
            return policy_calendar.payment_due(day, params, state=state)
        return policy_calendar.cycle_due(day, app_pauses, params, today=today, state=state)

    def deadline(kind: str, day: dt.date, params: Any, app_pauses: list[Any], row: DeadlineRow) -> dt.date:
        if app_pauses:  # supplement time makes the deadline the application's own
            found = settled(kind, day, params, app_pauses)
        else:
            key = (kind, day, params.version)
            if key not in memo:
                memo[key] = settled(kind, day, params, [])
            found = memo[key]
        row.provisional_years = tuple(sorted({*row.provisional_years, *found.provisional_years}))
        return found.date  # type: ignore[no-any-return]

    result = Compliance()
    for app in cohort:
        submitted = local_date(app["submitted_at"])
        assert submitted is not None
        received = app["received_date"] or submitted
        status = app["status"]
        row = DeadlineRow(
            application_id=app["pk"],
            reference=app["reference"] or "",
            enterprise_name=app["enterprise_name"] or app["enterprise__name"],
            status=status,
            received=received,
            approved=local_date(app["approved_at"]),
        )
        row.paid = app.get("payment__date") or local_date(app["paid_at"])
        if row.approved is not None:
            row.decided = row.approved
        elif status == Status.REJECTED:
            row.decided = rejected_on.get(app["pk"])
        try:
            params = params_for(submitted)
            app_pauses = pauses.get(app["pk"], [])
            row.review_deadline = deadline("review", received, params, app_pauses, row)
            row.review = _outcome(row.decided, row.review_deadline, status in IN_REVIEW, today)
            if row.approved is not None:
                row.payment_deadline = deadline("payment", row.approved, params, [], row)
                row.payment = _outcome(row.paid, row.payment_deadline, status == Status.APPROVED, today)
            if status != Status.REJECTED:
                row.cycle_deadline = deadline("cycle", received, params, app_pauses, row)
                still_open = status in IN_REVIEW or status == Status.APPROVED
                row.cycle = _outcome(row.paid, row.cycle_deadline, still_open, today)
        except (UnknownYearError, PolicyNotInForceError) as exc:
            row.review = UNKNOWN
            row.payment = UNKNOWN if row.approved is not None else NOT_APPLICABLE
            row.cycle = UNKNOWN if status != Status.REJECTED else NOT_APPLICABLE
            row.note = str(exc)
        result.rows.append(row)
    # Unclaimed applications have no received date in the database; sort here so that they take
    # their place by submission day on every database (NULLs sort differently in SQLite and PostgreSQL).
    result.rows.sort(key=lambda r: (r.received, r.application_id))
    return result


def _outcome(done: dt.date | None, deadline: dt.date, still_open: bool, today: dt.date) -> str:
    if done is not None:
        return ON_TIME if done <= deadline else LATE
    if still_open:
        return OVERDUE if today > deadline else OPEN
    return UNKNOWN


# --- compute usage -----------------------------------------------------------------------------


def _usage_rows(year: int, group: Iterable[str]) -> list[dict[str, Any]]:
    usage = optional_model("monitoring", "UsageRecord")
    if usage is None:
        return []
    return list(
        usage._default_manager.filter(_in_year("started_at", year))
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
    labels: dict[str, str] = {}
    usage = optional_model("monitoring", "UsageRecord")
    if usage is not None:
        labels = {str(k): str(v) for k, v in usage._meta.get_field("scenario").flatchoices}  # type: ignore[union-attr]
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
    labels: dict[str, str] = {}
    usage = optional_model("monitoring", "UsageRecord")
    if usage is not None:
        labels = {str(k): str(v) for k, v in usage._meta.get_field("scenario").flatchoices}  # type: ignore[union-attr]
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


def _finding_model() -> type[models.Model] | None:
    model = optional_model("audits", "Finding")
    if model is None or not has_field(model, "status"):
        return None
    return model


def _finding_date_field(model: type[models.Model]) -> str | None:
    for name in ("created_at", "opened_at", "created"):
        if has_field(model, name):
            return name
    return None


def findings_of_year(year: int) -> models.QuerySet[Any] | None:
    model = _finding_model()
    if model is None:
        return None
    date_field = _finding_date_field(model)
    qs = model._default_manager.all()
    return qs.filter(_in_year(date_field, year)) if date_field else qs


def findings_by_status(year: int) -> list[dict[str, Any]]:
    """Audit findings opened in ``year`` per status, in the order the audits app declares them."""
    qs = findings_of_year(year)
    if qs is None:
        return []
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
        "budget": budget_use(year, totals["granted"], totals["paid"], totals["clawed_back"]),
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
        "available": {
            "review": optional_model("review", "Payment") is not None,
            "monitoring": optional_model("monitoring", "UsageRecord") is not None,
            "audits": _finding_model() is not None,
        },
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
        quota["used_pct"] = _pct(quota["granted"], quota["cap"])
    except PolicyNotInForceError as exc:
        quota["error"] = str(exc)

    notices: list[Any] = []
    unread = 0
    notification = optional_model("review", "Notification")
    if notification is not None:
        mine = notification._default_manager.filter(user=user)
        unread = mine.filter(read_at__isnull=True).count()
        notices = list(mine.order_by("-created_at", "-id")[:5])
    return {
        "applications": applications,
        "quota": quota,
        "notices": notices,
        "unread": unread,
        "inbox_available": notification is not None,
    }
