"""Read-only selectors of the intake: the subsidy estimate with the quota left, and the timeline."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from applications.models import Application
from applications.states import IN_REVIEW, TRANSITIONS, Status
from ledger.labels import action_label
from policy.loader import PolicyNotInForceError, PolicyParams, params_at
from policy.queries import kept_total
from policy.rules import SubsidyResult, calculate_subsidy


@dataclass(frozen=True)
class Estimate:
    """Rows 24–25 for the values typed so far, and the enterprise's annual quota (三（三）)."""

    params: PolicyParams | None
    result: SubsidyResult | None
    annual_cap: Decimal | None
    granted: Decimal
    pending: Decimal  # requested by the enterprise's other applications still in review
    error: str = ""

    @property
    def quota_left(self) -> Decimal | None:
        if self.annual_cap is None:
            return None
        return max(self.annual_cap - self.granted, Decimal("0.00"))


def estimate(
    application: Application,
    *,
    total_compute_cost: Decimal | None,
    work_minutes: int | None,
    overseas: bool,
    day: dt.date | None = None,
) -> Estimate:
    """The subsidy under the policy in force on ``day`` (today for a draft, docs/subsidy.md)."""
    when = day or timezone.localdate()
    granted = kept_total(application.enterprise_id, when.year, exclude_application_id=application.pk)
    pending = Application.objects.filter(
        enterprise_id=application.enterprise_id, status__in=[s.value for s in IN_REVIEW]
    ).exclude(pk=application.pk).aggregate(total=Sum("requested_amount"))["total"] or Decimal("0.00")
    try:
        params = params_at(when)
    except PolicyNotInForceError as exc:
        return Estimate(None, None, None, granted, pending, error=str(exc))
    result = None
    if (
        total_compute_cost is not None
        and work_minutes is not None
        and total_compute_cost > 0
        and work_minutes > 0
    ):
        result = calculate_subsidy(
            total_compute_cost=total_compute_cost,
            work_minutes=work_minutes,
            overseas=overseas,
            granted_this_year=granted,
            params=params,
        )
    return Estimate(params, result, params.annual_cap, granted, pending)


# Chinese names of the audit actions an applicant sees on the timeline.
TIMELINE_LABELS: dict[str, Any] = {
    "application.create": gettext_lazy("创建草稿"),
    "application.submit": gettext_lazy("提交申报"),
    "application.withdraw": gettext_lazy("撤回申请"),
    "application.material_upload": gettext_lazy("上传材料"),
    "application.material_remove": gettext_lazy("删除草稿材料"),
}


@dataclass(frozen=True)
class TimelineItem:
    at: dt.datetime
    label: str
    note: str
    actor: str


def timeline(application: Application) -> list[TimelineItem]:
    """The application's history, oldest first: its audited events (docs/states.md: every transition
    is recorded with actor, time and states). Draft edits and downloads are left out as noise."""
    from ledger.models import AuditEvent

    # Refused attempts stay in the staff audit log; the applicant sees only what was done.
    events = (
        AuditEvent.objects.filter(
            object_type="applications.Application",
            object_id=str(application.pk),
            result=AuditEvent.Result.SUCCESS,
        )
        .exclude(
            # A take-over moves the work between reviewers; the applicant's case is unchanged.
            action__in=(
                "application.update",
                "application.pdf_download",
                "application.material_download",
                "application.take_over",
                # A public progress query reads the case; it changes nothing the applicant did.
                "review.progress_query",
            )
        )
        .select_related("actor")
        .order_by("created_at", "id")
    )
    items = []
    for event in events:
        label = TIMELINE_LABELS.get(event.action)
        if label is None:
            transition = TRANSITIONS.get(event.action.rsplit(".", 1)[-1])
            label = str(transition.label) if transition else action_label(event.action)
        note = ""
        after: Any = event.after or {}
        if isinstance(after, dict):
            if event.action == "application.material_upload":
                note = str(after.get("name", ""))
            elif after.get("status") in Status.values:
                note = _("状态：%(status)s") % {"status": Status(after["status"]).label}
            if after.get("opinion"):
                note = (note + " " if note else "") + str(after["opinion"])
        items.append(
            TimelineItem(
                at=event.created_at, label=str(label), note=note, actor=str(event.actor or event.actor_repr)
            )
        )
    return items
