"""The apply deadlines of drafts that loading an official holiday year moves (``calendar.moves``)."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import Role
from applications.models import Application
from applications.states import Status
from core.lib.workdays import UnknownYearError
from policy import calendar as policy_calendar
from policy.calendar import CalendarState
from policy.deadlines import Move
from policy.loader import PolicyNotInForceError, params_at


def calendar_moves(*, before: CalendarState, after: CalendarState, today: dt.date) -> list[Move]:
    """Drafts whose apply deadline the new schedule moves; the enterprise keeps the later date."""
    try:
        params = params_at(today)
    except PolicyNotInForceError:
        return []
    drafts = Application.objects.filter(status=Status.DRAFT, launch_date__isnull=False).select_related(
        "enterprise"
    )
    moves = []
    for app in drafts:
        launch = app.launch_date
        assert launch is not None
        try:
            shown = policy_calendar.apply_due(launch, params, state=before)
            official = policy_calendar.apply_deadline(launch, params, calendar=after.calendar)
            settled = policy_calendar.apply_due(launch, params, state=after)
        except UnknownYearError:
            continue
        if official == shown.date or shown.date < today:
            continue
        users = User.objects.filter(
            enterprise_id=app.enterprise_id, is_active=True, groups__name=Role.APPLICANT
        ).values_list("pk", flat=True)
        moves.append(
            Move(
                key=f"apply:{app.pk}",
                label=_("申报截止日"),
                subject=_("草稿“%(title)s”") % {"title": app.work_title or app.pk},
                party=policy_calendar.ENTERPRISE,
                before=shown.date,
                official=official,
                after=settled.date,
                provisional_after=settled.provisional,
                user_ids=tuple(sorted(set(users))),
                application_id=app.pk,
                link=reverse("applications:detail", args=[app.pk]),
            )
        )
    return moves
