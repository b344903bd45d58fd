"""The public progress query (办件进度查询): a case's stage and dates, without an account.

Whoever holds an application's reference and its enterprise's 统一社会信用代码 sees the stage,
the dates of the steps taken and the deadlines the center is held to (暂定 where a year's
holiday schedule is not yet official). Nothing else leaves: no names, amounts, opinions or
contacts. A wrong pair is refused with one message whichever half is wrong, so the page never
says whether a reference exists.

Every query is an audit event (``review.progress_query``, failed when refused); the same events
count a client's tries, so the limit holds across processes and restarts and needs no other store.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from applications.models import Application
from applications.states import Status
from applications.timeline import timeline
from core.validators import normalize_uscc
from ledger.actions import client_ip, record_event
from ledger.models import AuditEvent
from review.clock import Clock, clock_for, local_date

ACTION = "review.progress_query"


class ProgressForm(forms.Form):
    reference = forms.CharField(
        label=gettext_lazy("申报编号"),
        max_length=20,
        help_text=gettext_lazy("提交申报后系统生成的编号，如 YD2026-000123"),
    )
    uscc = forms.CharField(label=gettext_lazy("统一社会信用代码"), max_length=30)

    def clean_reference(self) -> str:
        return str(self.cleaned_data.get("reference", "")).strip().upper()

    def clean_uscc(self) -> str:
        return normalize_uscc(self.cleaned_data.get("uscc", ""))


@dataclass(frozen=True)
class Step:
    at: dt.date
    label: str


@dataclass(frozen=True)
class Progress:
    """What the public may see of one application: its stage, dates and deadlines, nothing else."""

    reference: str
    status: str
    submitted: dt.date | None
    received: dt.date | None
    approved: dt.date | None
    paid: dt.date | None
    clock: Clock
    steps: tuple[Step, ...]


def find(reference: str, uscc: str) -> Application | None:
    """The submitted application with this reference whose enterprise has this USCC, else None."""
    if not reference or not uscc:
        return None
    return (
        Application.objects.exclude(status=Status.DRAFT)
        .filter(reference__iexact=reference, enterprise__uscc=uscc)
        .select_related("payment")
        .first()
    )


def progress_of(application: Application, *, today: dt.date | None = None) -> Progress:
    """The public view of ``application``: the clock and the timeline's steps, labels and days only
    (the timeline's actors and notes name people and carry opinions)."""
    return Progress(
        reference=str(application.reference),
        status=str(Status(application.status).label),
        submitted=local_date(application.submitted_at),
        received=application.received_date,
        approved=local_date(application.approved_at),
        paid=local_date(application.paid_at),
        clock=clock_for(application, today=today),
        # Only the case's own steps: uploads, downloads and drafts are the applicant's business.
        steps=tuple(
            Step(at=timezone.localdate(item.at), label=item.label)
            for item in timeline(application)
            if item.changes_state
        ),
    )


def _limit() -> tuple[int, dt.timedelta]:
    """Queries per client address and the window they are counted in (settings)."""
    return int(settings.PROGRESS_QUERY_LIMIT), dt.timedelta(
        minutes=int(settings.PROGRESS_QUERY_WINDOW_MINUTES)
    )


def tries_left(ip: str | None) -> int:
    """How many more queries the client at ``ip`` may make now (its audited queries in the window)."""
    limit, window = _limit()
    events = AuditEvent.objects.filter(action=ACTION, created_at__gte=timezone.now() - window)
    events = events.filter(ip=ip) if ip else events.filter(ip__isnull=True)
    return max(0, limit - events.count())


@require_http_methods(["GET", "POST"])
def progress_query(request: HttpRequest) -> HttpResponse:
    """办件进度查询: the form, and the answer for a right pair or one refusal for any wrong one."""
    context: dict[str, object] = {"form": ProgressForm()}
    if request.method != "POST":
        return render(request, "review/progress.html", context)
    ip = client_ip(request)
    limit, window = _limit()
    if tries_left(ip) <= 0:
        context["error"] = _(
            "查询过于频繁：同一网络地址 %(minutes)s 分钟内最多查询 %(limit)s 次，请稍后再试。"
        ) % {
            "minutes": int(window.total_seconds() // 60),
            "limit": limit,
        }
        return render(request, "review/progress.html", context, status=429)
    form = ProgressForm(request.POST)
    context["form"] = form
    if not form.is_valid():
        return render(request, "review/progress.html", context, status=400)
    reference, uscc = form.cleaned_data["reference"], form.cleaned_data["uscc"]
    application = find(reference, uscc)
    if application is None:
        record_event(
            ACTION,
            actor=None,
            actor_repr="anonymous",
            after={"reference": reference, "uscc": uscc},
            result=AuditEvent.Result.FAILURE,
            ip=ip,
        )
        context["error"] = _("未查到与该申报编号和统一社会信用代码对应的申报，请核对后重新输入。")
        return render(request, "review/progress.html", context, status=404)
    record_event(ACTION, actor=None, actor_repr="anonymous", obj=application, ip=ip)
    context["progress"] = progress_of(application)
    return render(request, "review/progress.html", context)
