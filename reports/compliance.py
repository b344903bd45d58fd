"""Deadline compliance of a year (docs/deadlines.md): for every application and each step with a
deadline, whether it was met, is late, still open or overdue."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy

from applications.models import Application
from applications.states import IN_REVIEW, Status
from core.lib.workdays import UnknownYearError
from policy import calendar as policy_calendar
from policy.loader import PolicyNotInForceError, params_at
from policy.queries import year_bounds
from reports.common import local_date, local_date_of, pct
from review.models import ReviewStep, SupplementNotice

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
        return {**counts, "measured": decided, "rate_pct": pct(counts[ON_TIME], decided)}

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
    # Plain rows, not model instances: building ten thousand instances costs more than the rest;
    # moments read as their policy-local dates (``local_date_of``), not parsed one by one.
    fields = ["pk", "reference", "enterprise_name", "enterprise__name", "status", "submitted_on"]
    fields += ["received_date", "approved_on", "paid_on"]
    fields.append("payment__date")
    cohort = list(
        cohort_qs.annotate(
            submitted_on=local_date_of("submitted_at"),
            approved_on=local_date_of("approved_at"),
            paid_on=local_date_of("paid_at"),
        ).values(*fields)
    )
    cohort_ids = cohort_qs.values("pk")  # a subquery, so no list of ids is ever sent

    pauses: dict[int, list[tuple[dt.date, dt.date | None]]] = defaultdict(list)
    if cohort:
        for app_id, notice_date, resubmitted in SupplementNotice.objects.filter(
            application_id__in=cohort_ids
        ).values_list("application_id", "notice_date", "resubmitted_date"):
            pauses[app_id].append((notice_date, resubmitted))

    rejected_on: dict[int, dt.date | None] = {}
    if cohort:
        rejected_on = {
            app_id: local_date(at)
            for app_id, at in ReviewStep.objects.filter(
                application_id__in=cohort_ids, status_after=Status.REJECTED
            )
            .values_list("application_id")
            .annotate(at=models.Max("at"))
            .order_by()
        }

    state = policy_calendar.get_state()
    # A year's applications share few distinct days: deadlines are memoised per (day, policy
    # version, supplement pauses) so a year of thousands of applications costs hundreds of
    # calendar walks, not thousands (a deadline depends on nothing else: today and the calendar
    # are the same for every application here).
    params_of: dict[dt.date, Any] = {}
    memo: dict[tuple[str, dt.date, str, tuple[Any, ...]], Any] = {}

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
        key = (kind, day, params.version, tuple(app_pauses))
        found = memo.get(key)
        if found is None:
            found = memo[key] = settled(kind, day, params, app_pauses)
        if found.provisional_years:
            row.provisional_years = tuple(sorted({*row.provisional_years, *found.provisional_years}))
        return found.date  # type: ignore[no-any-return]

    result = Compliance()
    for app in cohort:
        submitted = app["submitted_on"]
        received = app["received_date"] or submitted
        status = app["status"]
        row = DeadlineRow(
            application_id=app["pk"],
            reference=app["reference"] or "",
            enterprise_name=app["enterprise_name"] or app["enterprise__name"],
            status=status,
            received=received,
            approved=app["approved_on"],
        )
        row.paid = app.get("payment__date") or app["paid_on"]
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
