"""The review, payment and cycle deadlines that loading an official holiday year moves, and telling
the people concerned (receivers of ``calendar.moves`` and ``calendar.loaded``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import User
from applications.models import Application
from applications.states import IN_REVIEW, Status
from core import notifications
from core.models import Notification
from policy import calendar as policy_calendar
from policy.calendar import CalendarState
from policy.deadlines import Move
from review.clock import Clock, clock_for
from review.models import ReviewStep, notices_by_application
from review.notify import send_email
from review.reminders import NEXT_ROLE

# Applications with a running center deadline: in review (review and cycle) or approved (payment).
OPEN = [s.value for s in (*IN_REVIEW, Status.APPROVED)]


def _staff_for(app: Application, claims: dict[int, set[int]]) -> tuple[int, ...]:
    """Who is told: the reviewers who claimed the application, else everyone of the next role."""
    if app.status != Status.APPROVED and claims.get(app.pk):
        return tuple(sorted(claims[app.pk]))
    role = NEXT_ROLE.get(Status(app.status))
    if role is None:
        return ()
    return tuple(
        User.objects.filter(groups__name=role, is_active=True).order_by("pk").values_list("pk", flat=True)
    )


def calendar_moves(*, before: CalendarState, after: CalendarState, today: dt.date) -> list[Move]:
    """Open applications whose center deadlines the new schedule moves; the center takes the earlier."""
    apps = list(Application.objects.filter(status__in=OPEN).select_related("enterprise"))
    notices = notices_by_application([a.pk for a in apps])
    claims: dict[int, set[int]] = {}
    for app_id, actor_id in ReviewStep.objects.filter(application__in=apps, transition="claim").values_list(
        "application_id", "actor_id"
    ):
        claims.setdefault(app_id, set()).add(actor_id)
    official_only = CalendarState(after.calendar, {})
    moves: list[Move] = []
    for app in apps:
        shown = clock_for(app, notices[app.pk], today=today, state=before)
        official = clock_for(app, notices[app.pk], today=today, state=official_only)
        settled = clock_for(app, notices[app.pk], today=today, state=after)
        for attr, label in (("due", shown.stage_label), ("cycle_due", _("兑现周期截止"))):
            old, new, got = getattr(shown, attr), getattr(official, attr), getattr(settled, attr)
            if old is None or new is None or got is None or old == new:
                continue
            moves.append(_move(app, attr, str(label), old, new, got, settled, _staff_for(app, claims)))
    return moves


def _move(
    app: Application,
    attr: str,
    label: str,
    old: dt.date,
    new: dt.date,
    got: dt.date,
    settled: Clock,
    users: tuple[int, ...],
) -> Move:
    return Move(
        key=f"{attr}:{app.pk}",
        label=label,
        subject=_("申请 %(reference)s（%(title)s）")
        % {"reference": app.reference or app.pk, "title": app.work_title},
        party=policy_calendar.CENTER,
        before=old,
        official=new,
        after=got,
        provisional_after=settled.provisional,
        user_ids=users,
        application_id=app.pk,
        link=reverse("review:detail", args=[app.pk]),
    )


def tell_people(*, year: int, moves: list[dict[str, Any]], actor_id: int | None) -> None:
    """After an official year is loaded: each person concerned gets an inbox message and an e-mail
    listing their deadlines that moved (or were kept, the official date being earlier)."""
    by_user: dict[int, list[dict[str, Any]]] = {}
    for move in moves:
        for user_id in move["user_ids"]:
            by_user.setdefault(user_id, []).append(move)
    users = User.objects.in_bulk(list(by_user))
    for user_id, items in by_user.items():
        user = users.get(user_id)
        if user is None:
            continue
        lines = [_line(year, m) for m in items]
        title = _("%(year)s年节假日安排已正式公布，%(n)s 项期限有调整") % {"year": year, "n": len(items)}
        notifications.inbox(
            [
                Notification(
                    user=user,
                    application_id=m["application_id"],
                    kind=Notification.Kind.REMINDER,
                    title=title,
                    body=line,
                    link=m["link"],
                )
                for m, line in zip(items, lines, strict=True)
            ]
        )
        if user.email:
            send_email(title, "\n".join(lines), [user.email])


def _line(year: int, move: dict[str, Any]) -> str:
    values = {**move, "year": year}
    if move["moved"]:
        return (
            _("%(subject)s 的%(label)s由 %(before)s 调整为 %(after)s（按%(year)s年正式节假日安排）") % values
        )
    return (
        _("%(subject)s 的%(label)s仍为 %(before)s：按正式安排为 %(official)s，企业的期限取较晚日期") % values
    )
