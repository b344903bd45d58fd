"""The objection deadlines that loading an official holiday year moves (``calendar.moves``).

The deadline is stored on the data notice, so a move rewrites it (in the loading transaction).
It is the enterprise's own deadline: it keeps the later of the date it was told and the
official one (policy parameter ``calendar.enterprise_keeps_later``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import Role
from audits.models import DataNotice, Finding
from policy import calendar as policy_calendar
from policy.calendar import CalendarState
from policy.deadlines import Move
from policy.loader import params_at


def _store(notice_id: int, deadline: dt.date) -> Callable[[], None]:
    def store() -> None:
        DataNotice.objects.filter(pk=notice_id).update(objection_deadline=deadline)

    return store


def calendar_moves(*, before: CalendarState, after: CalendarState, today: dt.date) -> list[Move]:
    notices = DataNotice.objects.filter(
        finding__status=Finding.Status.NOTIFIED, objection_deadline__gte=today
    ).select_related("finding__application")
    moves = []
    for notice in notices:
        params = params_at(notice.notice_date)
        official = policy_calendar.objection_deadline(notice.notice_date, params, calendar=after.calendar)
        told = notice.objection_deadline
        if official == told:
            continue
        settled = max(official, told) if policy_calendar.keeps_later(params) else official
        years = after.calendar.provisional_years(notice.notice_date, settled)
        app = notice.finding.application
        users = User.objects.filter(
            enterprise_id=app.enterprise_id, is_active=True, groups__name=Role.APPLICANT
        ).values_list("pk", flat=True)
        moves.append(
            Move(
                key=f"objection:{notice.pk}",
                label=_("异议截止日"),
                subject=_("申请 %(reference)s（%(title)s）的核查数据告知")
                % {"reference": app.reference or app.pk, "title": app.work_title},
                party=policy_calendar.ENTERPRISE,
                before=told,
                official=official,
                after=settled,
                provisional_after=bool(years),
                user_ids=tuple(sorted(set(users))),
                application_id=app.pk,
                link=reverse("audits:notice", args=[notice.pk]),
                store=_store(notice.pk, settled),
            )
        )
    return moves
