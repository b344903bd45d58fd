"""The working-day clock of one application (docs/deadlines.md, 四（四）).

- review complete by the 10th working day after receipt, extended by the supplement time;
- pay by the 20th working day after final approval;
- the whole cycle, receipt → payment, at most 30 working days, supplement time excluded.

Supplement time runs from a notice day (exclusive) to the resubmission day (inclusive); an
unanswered notice pauses the clock up to today. The arithmetic is ``policy.calendar``'s; this
module only picks the dates of an application and says what is due next.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from applications.models import Application
from applications.states import IN_REVIEW, Status
from core.lib.workdays import UnknownYearError
from policy import calendar as policy_calendar
from policy.calendar import CalendarState
from policy.loader import PolicyNotInForceError, params_at
from review.models import SupplementNotice, notices_of

# An item is "due soon" when this many working days or fewer are left (staff reminders too).
DUE_SOON_WORKDAYS = 2

Pause = tuple[dt.date, dt.date | None]
T = TypeVar("T")


@dataclass(frozen=True)
class Clock:
    """What is due on an application and when; ``None`` fields when nothing is due."""

    received: dt.date | None = None
    stage: str = "none"  # "review" | "payment" | "done" | "none"
    due: dt.date | None = None
    left: int | None = None
    cycle_due: dt.date | None = None
    cycle_left: int | None = None
    cycle_used: int | None = None
    paused: bool = False
    paused_workdays: int = 0
    error: str = ""
    # Years without an official schedule that decided ``due`` or ``cycle_due`` (暂定).
    provisional_years: tuple[int, ...] = ()
    # Each date's own provisional years: the 暂定 mark goes on the date it concerns.
    due_provisional_years: tuple[int, ...] = ()
    cycle_provisional_years: tuple[int, ...] = ()

    @property
    def provisional(self) -> bool:
        return bool(self.provisional_years)

    @property
    def due_provisional(self) -> bool:
        return bool(self.due_provisional_years)

    @property
    def due_reason(self) -> str:
        return policy_calendar.provisional_reason(self.due_provisional_years)

    @property
    def cycle_provisional(self) -> bool:
        return bool(self.cycle_provisional_years)

    @property
    def cycle_reason(self) -> str:
        return policy_calendar.provisional_reason(self.cycle_provisional_years)

    @property
    def reason(self) -> str:
        return policy_calendar.provisional_reason(self.provisional_years)

    @property
    def overdue(self) -> bool:
        return (self.left is not None and self.left < 0) or (
            self.cycle_left is not None and self.cycle_left < 0
        )

    @property
    def due_soon(self) -> bool:
        return (
            not self.overdue
            and not self.paused
            and self.next_left is not None
            and self.next_left <= DUE_SOON_WORKDAYS
        )

    @property
    def overdue_by(self) -> int:
        """Working days past the nearer deadline (0 when not overdue)."""
        return max(0, -(self.next_left or 0))

    @property
    def next_due(self) -> dt.date | None:
        """The earlier of the stage deadline and the cycle deadline (what sorts a queue)."""
        dates = [d for d in (self.due, self.cycle_due) if d is not None]
        return min(dates) if dates else None

    @property
    def next_left(self) -> int | None:
        values = [v for v in (self.left, self.cycle_left) if v is not None]
        return min(values) if values else None

    @property
    def stage_label(self) -> str:
        return {"review": _("审核期限"), "payment": _("兑现期限"), "done": _("已完成")}.get(self.stage, "")


def local_date(value: dt.datetime | None) -> dt.date | None:
    return timezone.localdate(value) if value is not None else None


def received_date(application: Application) -> dt.date | None:
    """The day the center received the application: the recorded receipt date, else the submission day."""
    return application.received_date or local_date(application.submitted_at)


def pauses_of(notices: Iterable[SupplementNotice]) -> list[Pause]:
    return [(n.notice_date, n.resubmitted_date) for n in notices]


def clock_for(
    application: Application,
    notices: Iterable[SupplementNotice] | None = None,
    *,
    today: dt.date | None = None,
    state: CalendarState | None = None,
) -> Clock:
    """The clock of ``application`` on ``today``. Pass ``notices`` (and the calendar state) when
    listing many applications, so that no query runs per row."""
    today = today or timezone.localdate()
    status = Status(application.status)
    received = received_date(application)
    if received is None or status not in _TIMED:
        return Clock(received=received)
    if notices is None:
        notices = notices_of(application.pk)
    return clock_of(
        status,
        received,
        tuple(pauses_of(notices)),
        submitted=local_date(application.submitted_at),
        approved=local_date(application.approved_at),
        # The payment is read only where there is one (a list selects it with the application).
        paid=_paid_date(application) if status == Status.PAID else None,
        today=today,
        state=state or policy_calendar.get_state(),
    )


# The states in which an application has a clock.
_TIMED = frozenset({*IN_REVIEW, Status.APPROVED, Status.PAID})


def clock_of(
    status: str,
    received: dt.date | None,
    pauses: tuple[Pause, ...],
    *,
    submitted: dt.date | None,
    approved: dt.date | None,
    paid: dt.date | None,
    today: dt.date,
    state: CalendarState,
) -> Clock:
    """The clock from an application's dates alone: its receipt, the local days of its submission,
    final approval and payment (``None`` where there is none yet) and its supplement pauses."""
    status = Status(status)
    if received is None or status not in _TIMED:
        return Clock(received=received)
    return _clock(
        status,
        received,
        pauses,
        submitted or received,
        (approved or today) if status == Status.APPROVED else None,
        (paid or today) if status == Status.PAID else None,
        today,
        state,
    )


@dataclass(frozen=True)
class QueueClock:
    """One application of a queue: its id, its submission time (the order among equal deadlines)
    and its clock."""

    pk: int
    submitted_at: dt.datetime | None
    clock: Clock

    def sort_key(self) -> tuple[bool, dt.date, float]:
        """Nearest deadline first; items without one (paid, rejected) last, newest first."""
        due = self.clock.next_due
        return (
            due is None,
            due or dt.date.max,
            -(self.submitted_at.timestamp() if self.submitted_at else 0),
        )


def queue_clocks(
    applications: QuerySet[Application], *, today: dt.date, state: CalendarState
) -> list[QueueClock]:
    """The clocks of every application of a queue, read as plain values in two queries (a queue
    holds thousands of applications): the dates the clock needs, then the supplement pauses."""
    rows = list(
        applications.select_related(None).values_list(
            "pk", "status", "received_date", "submitted_at", "approved_at", "paid_at", "payment__date"
        )
    )
    pauses: dict[int, list[Pause]] = {}
    notices = (
        SupplementNotice.objects.filter(application_id__in=applications.values("pk"))
        .order_by("round")
        .values_list("application_id", "notice_date", "resubmitted_date")
    )
    for app_id, notice_date, resubmitted in notices:
        pauses.setdefault(app_id, []).append((notice_date, resubmitted))
    tz = timezone.get_current_timezone()

    def day(value: dt.datetime | None) -> dt.date | None:
        return value.astimezone(tz).date() if value is not None else None

    out = []
    for pk, status, received, submitted_at, approved_at, paid_at, payment_date in rows:
        submitted = day(submitted_at)
        clock = clock_of(
            status,
            received or submitted,  # as received_date(): the recorded receipt, else the submission day
            tuple(pauses.get(pk, ())),
            submitted=submitted,
            approved=day(approved_at),
            paid=payment_date or day(paid_at),
            today=today,
            state=state,
        )
        out.append(QueueClock(pk, submitted_at, clock))
    return out


@lru_cache(maxsize=4096)
def _clock(
    status: Status,
    received: dt.date,
    pauses: tuple[Pause, ...],
    submitted: dt.date,
    approved: dt.date | None,
    paid: dt.date | None,
    today: dt.date,
    state: CalendarState,
) -> Clock:
    """The clock from its dates alone. Cached: in a queue many applications share their dates, and a
    calendar state is replaced (never changed) when a year's schedule is loaded.

    The deadlines are the center's: settled by :func:`policy.calendar.settle` (暂定 while a year
    is provisional, the earlier date once it is loaded)."""
    cal = state.calendar
    paused = status == Status.SUPPLEMENT_REQUESTED
    errors: list[str] = []
    pause_list = list(pauses)

    def attempt(compute: Callable[[], T]) -> T | None:
        # A year before the calendar's first one, or no policy in force: say so, never guess.
        try:
            return compute()
        except (UnknownYearError, PolicyNotInForceError) as exc:
            if str(exc) not in errors:
                errors.append(str(exc))
            return None

    params = attempt(lambda: params_at(submitted))
    paused_days = attempt(
        lambda: policy_calendar.paused_workdays(pause_list, after=received, today=today, calendar=cal)
    )
    if paid is not None:
        used = attempt(lambda: policy_calendar.cycle_workdays_used(received, paid, pause_list, calendar=cal))
        return Clock(
            received=received,
            stage="done",
            cycle_used=used,
            paused_workdays=paused_days or 0,
            error="；".join(errors),
        )
    if params is None:
        return Clock(received=received, stage="review", paused=paused, error="；".join(errors))
    cycle = attempt(lambda: policy_calendar.cycle_due(received, pause_list, params, today=today, state=state))
    cycle_due = cycle.date if cycle else None
    cycle_left = (
        attempt(lambda: policy_calendar.workdays_left(cycle_due, today, calendar=cal)) if cycle_due else None
    )
    used = attempt(lambda: policy_calendar.cycle_workdays_used(received, today, pause_list, calendar=cal))
    if approved is not None:
        stage_due = attempt(lambda: policy_calendar.payment_due(approved, params, state=state))
        stage = "payment"
    else:
        stage_due = attempt(
            lambda: policy_calendar.review_due(received, pause_list, params, today=today, state=state)
        )
        stage = "review"
    due = stage_due.date if stage_due else None
    left = attempt(lambda: policy_calendar.workdays_left(due, today, calendar=cal)) if due else None
    years = sorted({y for d in (cycle, stage_due) if d is not None for y in d.provisional_years})
    return Clock(
        received=received,
        stage=stage,
        due=due,
        left=left,
        cycle_due=cycle_due,
        cycle_left=cycle_left,
        cycle_used=used,
        paused=paused,
        paused_workdays=paused_days or 0,
        error="；".join(errors),
        provisional_years=tuple(years),
        due_provisional_years=stage_due.provisional_years if stage_due else (),
        cycle_provisional_years=cycle.provisional_years if cycle else (),
    )


def _paid_date(application: Application) -> dt.date | None:
    """The payment's date (lists select the payment with the application), else the recording day."""
    try:
        payment = application.payment
    except ObjectDoesNotExist:
        return local_date(application.paid_at)
    return payment.date
