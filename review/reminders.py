"""Deadline reminders to staff (docs/deadlines.md): one digest a day to whoever acts next on an
application whose deadline is near or past."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from applications.models import Application
from applications.states import Status
from core.transactions import durable
from enterprises.models import ConflictOfInterest
from ledger.actions import record_event
from policy.calendar import get_state
from review import notify
from review.clock import DUE_SOON_WORKDAYS, clock_for
from review.models import DeadlineReminder, notices_by_application
from review.transitions import claimants

# Who acts next in each state.
NEXT_ROLE = {
    Status.SUBMITTED: Role.REVIEWER,
    Status.INITIAL_REVIEW: Role.REVIEWER,
    Status.RE_REVIEW: Role.HEAD,
    Status.FINAL_APPROVAL: Role.APPROVER,
    Status.APPROVED: Role.FINANCE,
}


def send_deadline_reminders(today: dt.date | None = None) -> int:
    """E-mail each staff member who acts next on items due within 2 working days or overdue.

    Idempotent per day: a reminder about one application to one person is sent once a day
    (``DeadlineReminder``). Returns the number of e-mails queued.
    """
    today = today or timezone.localdate()
    state = get_state()
    apps = list(Application.objects.filter(status__in=list(NEXT_ROLE)).select_related("enterprise"))
    notices = notices_by_application([a.pk for a in apps])
    holders = claimants(a.pk for a in apps)
    staff = {
        role: list(User.objects.filter(groups__name=role, is_active=True).exclude(email=""))
        for role in set(NEXT_ROLE.values())
    }
    conflicts = set(ConflictOfInterest.objects.values_list("user_id", "enterprise_id"))
    digest: dict[int, list[tuple[Application, Any]]] = {}
    users: dict[int, User] = {}
    with durable():
        for app in apps:
            clock = clock_for(app, notices[app.pk], today=today, state=state)
            if clock.next_left is None or clock.paused:
                continue
            if clock.next_left > DUE_SOON_WORKDAYS:
                continue
            role = NEXT_ROLE[Status(app.status)]
            recipients = staff[role]
            if Status(app.status) == Status.INITIAL_REVIEW:
                holder = holders.get(app.pk)
                recipients = [u for u in recipients if holder is not None and u.pk == holder.pk] or recipients
            for user in recipients:
                if (user.pk, app.enterprise_id) in conflicts:
                    continue
                _reminder, created = DeadlineReminder.objects.get_or_create(
                    application=app, user=user, day=today, defaults={"due": clock.next_due or today}
                )
                if created:
                    digest.setdefault(user.pk, []).append((app, clock))
                    users[user.pk] = user
        if digest:
            record_event(
                "review.deadline_reminders",
                actor=None,
                after={
                    "day": today.isoformat(),
                    "recipients": len(digest),
                    "items": sum(map(len, digest.values())),
                },
            )
            for user_id, entries in digest.items():
                transaction.on_commit(_remind_after_commit(users[user_id], entries, today), robust=True)
    return len(digest)


def _remind_after_commit(
    user: User, entries: list[tuple[Application, Any]], today: dt.date
) -> Callable[[], None]:
    # A closure, not functools.partial: Django names the callback when it logs a failure.
    def remind() -> None:
        notify.remind_staff(user, entries, today)

    return remind
