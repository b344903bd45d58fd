"""An application's timeline, built once for everyone who reads it: the applicant sees what was
done on their case; staff also see refused attempts and internal steps (docs/states.md: every
transition is recorded with actor, time and states)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from applications.models import Application
from applications.states import TRANSITIONS, Status
from ledger.labels import action_label


class Audience(StrEnum):
    """Who reads the timeline."""

    APPLICANT = "applicant"
    STAFF = "staff"


# Chinese names of the audit actions on the timeline (others: the transition's or the log's name).
TIMELINE_LABELS: dict[str, Any] = {
    "application.create": gettext_lazy("创建草稿"),
    "application.submit": gettext_lazy("提交申报"),
    "application.withdraw": gettext_lazy("撤回申请"),
    "application.material_upload": gettext_lazy("上传材料"),
    "application.material_remove": gettext_lazy("删除草稿材料"),
    "application.on_site_check": gettext_lazy("实地核查"),
}
# Draft edits are noise on every timeline.
NOISE = ("application.update",)
# What the applicant sees: its own steps and every change of its case's state. Everything else
# logged on the application is the center's own business and only staff see it: downloads,
# printing the approval form, a take-over (it moves the work between reviewers, the case is
# unchanged), reconciliation, public progress queries (they change nothing).
APPLICANT_ACTIONS = frozenset(TIMELINE_LABELS) | {f"application.{name}" for name in TRANSITIONS}


@dataclass(frozen=True)
class TimelineItem:
    at: dt.datetime
    label: str
    note: str
    actor: str
    failed: bool = False  # a refused attempt (staff only)
    before: str = ""  # the states a review step moved between (staff only)
    after: str = ""
    action: str = ""  # the audited action (``application.submit``)

    @property
    def changes_state(self) -> bool:
        """A step of the case itself (submitted, accepted, returned, approved, …), not an upload."""
        return self.action == "application.submit" or (
            self.action.startswith("application.") and self.action.split(".", 1)[1] in TRANSITIONS
        )


def event_label(action: str) -> str:
    """The Chinese name of an application's audit action on its timeline."""
    label = TIMELINE_LABELS.get(action)
    if label is None:
        transition = TRANSITIONS.get(action.rsplit(".", 1)[-1])
        label = transition.label if transition else action_label(action)
    return str(label)


def _actor(event: Any, application: Application, audience: Audience) -> str:
    """Who acted: by name for staff; for the applicant, its own people by name, staff by office
    (the authority's full name, ``AUTHORITY_NAME``)."""
    actor = event.actor
    if audience == Audience.STAFF or (actor is not None and actor.enterprise_id == application.enterprise_id):
        return str(actor or event.actor_repr)
    return str(settings.AUTHORITY_NAME)


def _status_label(value: Any) -> str:
    return str(Status(value).label) if value in Status.values else ""


def timeline(application: Application, *, audience: Audience = Audience.APPLICANT) -> list[TimelineItem]:
    """The application's history, oldest first, from its audited events."""
    from ledger.models import AuditEvent

    events = AuditEvent.objects.filter(
        object_type=Application._meta.label, object_id=str(application.pk)
    ).exclude(action__in=NOISE)
    if audience == Audience.APPLICANT:
        # Refused attempts stay in the staff audit log; the applicant sees only what was done.
        events = events.filter(result=AuditEvent.Result.SUCCESS, action__in=APPLICANT_ACTIONS)
    items = []
    for event in events.select_related("actor").order_by("created_at", "id"):
        after: Any = event.after if isinstance(event.after, dict) else {}
        before: Any = event.before if isinstance(event.before, dict) else {}
        step = isinstance(after.get("step_id"), int)  # written by a review step
        failed = event.result != AuditEvent.Result.SUCCESS
        if audience == Audience.STAFF:
            # A withdrawal is no review step; its reason is its opinion, and the reviewer reads why.
            fallback = after.get("error") or after.get("name") or after.get("opinion") or ""
            note = str(after.get("opinion", "")) if step else str(fallback)
        else:
            note = ""
            if event.action == "application.material_upload":
                note = str(after.get("name", ""))
            elif after.get("status") in Status.values:
                note = _("状态：%(status)s") % {"status": Status(after["status"]).label}
            if after.get("opinion"):
                note = (note + " " if note else "") + str(after["opinion"])
        items.append(
            TimelineItem(
                at=event.created_at,
                label=event_label(event.action),
                note=note,
                actor=_actor(event, application, audience),
                failed=failed,
                before=_status_label(before.get("status")) if step and audience == Audience.STAFF else "",
                after=_status_label(after.get("status")) if step and audience == Audience.STAFF else "",
                action=event.action,
            )
        )
    return items
