"""Read-only selections for the administration console: accounts, lockouts and the audit log."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from accounts.roles import ADMIN_ROLES, Role
from ledger.models import AuditEvent


def accounts_matching(q: str = "") -> QuerySet[User]:
    users = (
        User.objects.select_related("enterprise", "provider").prefetch_related("groups").order_by("username")
    )
    q = q.strip()
    if q:
        users = users.filter(Q(username__icontains=q) | Q(display_name__icontains=q))
    return users


def locked_usernames(limit: int) -> list[dict[str, Any]]:
    """User names with at least ``limit`` recorded failures still on file (django-axes)."""
    from axes.models import AccessAttempt
    from django.db.models import Max

    # Attempts are kept per user name and per user name with address: the highest count is the one.
    rows = (
        AccessAttempt.objects.values("username")
        .annotate(failures=Max("failures_since_start"), last=Max("attempt_time"))
        .filter(failures__gte=limit)
        .order_by("-last")
    )
    return [r for r in rows if r["username"]]


@dataclass(frozen=True)
class AuditFilters:
    """What the audit administrator searches by: person, role, action, object and period."""

    person: str = ""
    role: str = ""
    action: str = ""
    obj: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    admins_only: bool = False

    def as_dict(self) -> dict[str, str]:
        out = {
            "person": self.person,
            "role": self.role,
            "action": self.action,
            "object": self.obj,
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
            "admins_only": "1" if self.admins_only else "",
        }
        return {k: v for k, v in out.items() if v}


def _day_start(day: dt.date) -> dt.datetime:
    # Periods are Asia/Shanghai days (the site's time zone).
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def audit_events(filters: AuditFilters) -> QuerySet[AuditEvent]:
    events = (
        AuditEvent.objects.select_related("actor").prefetch_related(Prefetch("actor__groups")).order_by("-id")
    )
    if filters.person:
        p = filters.person.strip()
        events = events.filter(
            Q(actor_repr__icontains=p) | Q(actor__display_name__icontains=p) | Q(actor__username__icontains=p)
        )
    if filters.role:
        events = events.filter(actor__groups__name=filters.role)
    if filters.admins_only:
        # The other two administrators' own actions, for the audit administrator's review.
        events = events.filter(actor__groups__name__in=[Role.SYSADMIN, Role.SECADMIN])
    if filters.action:
        events = events.filter(action=filters.action)
    if filters.obj:
        o = filters.obj.strip()
        match = Q(object_repr__icontains=o) | Q(object_id=o)
        # Accounts are shown by name; an auditor may as well type the user name.
        user_ids = [str(pk) for pk in User.objects.filter(username__iexact=o).values_list("pk", flat=True)]
        if user_ids:
            match |= Q(object_type=User._meta.label, object_id__in=user_ids)
        events = events.filter(match)
    if filters.date_from:
        events = events.filter(created_at__gte=_day_start(filters.date_from))
    if filters.date_to:
        events = events.filter(created_at__lt=_day_start(filters.date_to + dt.timedelta(days=1)))
    return events.distinct()


def actor_role_labels(event: AuditEvent) -> str:
    if event.actor is None:
        return ""
    valid = set(Role.values)
    names = [g.name for g in event.actor.groups.all() if g.name in valid]
    return "、".join(str(Role(n).label) for n in sorted(names))


def is_admin_actor(event: AuditEvent) -> bool:
    if event.actor is None:
        return False
    return any(g.name in ADMIN_ROLES for g in event.actor.groups.all())
