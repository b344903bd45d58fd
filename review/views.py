"""Review pages: the staff workbench, the review page and its forms, the applicant's supplement
page and inbox, the printed approval form and the 台账 export.

Views are glue: fetch with permission → validate → one action → render or redirect. A refused
action (``ReviewError``) is answered with its status (409 illegal state, 403 role or separation
of duties, 400 invalid) and its Chinese message.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise as StrPromise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from accounts.models import User, current_user
from accounts.roles import STAFF_ROLES, Role
from applications import money
from applications.models import Application, Material
from applications.states import TRANSITIONS, Status
from applications.timeline import Audience, timeline
from core import hooks
from core.confirm import confirmed
from core.pagination import paginate
from core.refusals import problems_of
from core.signing import issued_pdf_response
from ledger.actions import record_event
from ledger.downloads import audited_download
from policy.calendar import get_state
from policy.queries import year_bounds
from review import actions, rows, transitions
from review.access import staff_application, staff_user
from review.checks import run_checks
from review.clock import QueueClock, clock_for, local_date, queue_clocks
from review.confirmations import REJECTIONS, RejectionForm, rejection_confirmation, supplement_preview
from review.export_views import default_period
from review.forms import OnSiteCheckForm, OpinionForm, PaymentForm, WorkbenchFilterForm, month_choices
from review.models import (
    OnSiteAttachment,
    OnSiteCheck,
    ReviewStep,
    SupplementNotice,
    notices_of,
)
from review.offer_deadlines import untaken_works
from review.transitions import ReviewError

PAGE_SIZE = 20


def _refused(request: HttpRequest, exc: ReviewError, app: Application | None = None) -> HttpResponse:
    return render(
        request,
        "review/refused.html",
        {"refusal": problems_of(exc), "status": exc.status, "application": app},
        status=exc.status,
    )


# --- the workbench ------------------------------------------------------------------------------

# (code, label, states, role that works the queue)
QUEUES: list[tuple[str, StrPromise, list[Status] | None, str | None]] = [
    ("initial", gettext_lazy("待初审"), [Status.SUBMITTED, Status.INITIAL_REVIEW], Role.REVIEWER),
    ("supplement", gettext_lazy("待企业补正"), [Status.SUPPLEMENT_REQUESTED], Role.REVIEWER),
    ("re_review", gettext_lazy("待复审"), [Status.RE_REVIEW], Role.HEAD),
    ("final", gettext_lazy("待审批"), [Status.FINAL_APPROVAL], Role.APPROVER),
    ("payment", gettext_lazy("待兑现"), [Status.APPROVED], Role.FINANCE),
    ("all", gettext_lazy("全部申请"), None, None),
]


def default_queue(user: User) -> str:
    for code, _label, _states, role in QUEUES:
        if role is not None and user.has_role(role):
            return code
    return "all"


@login_required
@require_GET
def workbench(request: HttpRequest) -> HttpResponse:
    """Queues per role, sorted by the nearest deadline, with working days left and overdue flags."""
    user = staff_user(request)
    queue = request.GET.get("queue") or default_queue(user)
    by_code = {q[0]: q for q in QUEUES}
    if queue not in by_code:
        queue = "all"
    _code, _label, states, _role = by_code[queue]
    form = WorkbenchFilterForm(request.GET or None)
    qs = Application.objects.exclude(status=Status.DRAFT).select_related("enterprise", "payment")
    if states is not None:
        qs = qs.filter(status__in=states)
    overdue_only = False
    if form.is_valid():
        data = form.cleaned_data
        if data["q"]:
            term = data["q"].strip()
            qs = qs.filter(
                Q(reference__icontains=term)
                | Q(enterprise_name__icontains=term)
                | Q(work_title__icontains=term)
                | Q(filing_number__icontains=term)
            )
        if data["enterprise"]:
            qs = qs.filter(
                Q(enterprise_name__icontains=data["enterprise"]) | Q(uscc__iexact=data["enterprise"])
            )
        if data["work"]:
            qs = qs.filter(work_title__icontains=data["work"])
        if data["filing"]:
            qs = qs.filter(filing_number__icontains=data["filing"])
        if data["status"]:
            qs = qs.filter(status=data["status"])
        if data["month"]:
            year, month = (int(x) for x in data["month"].split("-"))
            qs = qs.filter(submitted_at__year=year, submitted_at__month=month)
        overdue_only = data["overdue"]
    today = timezone.localdate()
    state = get_state()
    # The whole queue is read as plain values, only what its clocks and order need; the page's
    # rows are then read whole (a queue holds thousands of applications, a page twenty).
    entries = [e for e in queue_clocks(qs, today=today, state=state) if not overdue_only or e.clock.overdue]
    entries.sort(key=QueueClock.sort_key)
    page = paginate(request, entries, PAGE_SIZE)
    whole = Application.objects.select_related("enterprise", "payment").in_bulk([e.pk for e in page])
    page.object_list = [(whole[e.pk], e.clock) for e in page if e.pk in whole]
    roles = set(user.role_codes())
    return render(
        request,
        "review/workbench.html",
        {
            "page": page,
            "queue": queue,
            "queues": [
                (c, label)
                for c, label, _s, r in QUEUES
                if r is None or r in roles or roles & {Role.INSPECTOR}
            ],
            "form": form,
            "months": month_choices(today),
            "ledger_period": default_period(today),
            "today": today,
            "untaken_offers": _untaken_offers(),
        },
    )


def _untaken_offers() -> list[Any]:
    """Launched works whose offer is not taken (docs/offers.md), shown to the center."""
    return list(untaken_works()[:50])


# --- the review page ----------------------------------------------------------------------------


def material_url(material: Material) -> str:
    """The intake's view of a material file (where reviewers open it inline)."""
    return reverse(
        "applications:material_view" if material.inline_viewable else "applications:material_download",
        args=[material.application_id, material.pk],
    )


def _opinions(steps: list[ReviewStep]) -> dict[str, dict[str, Any]]:
    """The latest decision of each level, for the three boxes of the printed approval form
    (the format of ``applications.pdf.render_application_pdf``)."""
    boxes: dict[str, dict[str, Any]] = {}
    keys = {
        "pass_initial": "initial",
        "reject_initial": "initial",
        "pass_re_review": "re_review",
        "approve": "final",
        "reject_final": "final",
    }
    for step in steps:
        key = keys.get(step.transition)
        if key is None:
            continue
        passed = step.transition in ("pass_initial", "pass_re_review", "approve")
        boxes[key] = {
            "opinion": step.opinion or (_("同意") if passed else ""),
            "signer": str(step.actor),
            "date": timezone.localdate(step.at),
            "result": _("通过") if passed else _("不通过"),
        }
    return boxes


# Labels of the intake's events in the history (its own transitions come from the table).
def _ytd(app: Application) -> dict[str, Any]:
    """The enterprise's awards of the application's year: what each keeps counts against the cap."""
    day = local_date(app.submitted_at)
    if day is None:
        return {}
    start, end = year_bounds(day.year)
    grants = [
        {
            **g,
            "kept": (g["granted_amount"] or Decimal("0")) - g["clawed_back_amount"],
            "status_label": Status(g["status"]).label,
        }
        for g in Application.objects.filter(
            enterprise_id=app.enterprise_id,
            submitted_at__gte=start,
            submitted_at__lt=end,
            granted_amount__isnull=False,
        )
        .order_by("approved_at")
        .values(
            "pk", "reference", "work_title", "granted_amount", "clawed_back_amount", "status", "approved_at"
        )
    ]
    annual = money.year_record(app.enterprise_id, day.year)
    total = money.kept_total(app.enterprise_id, day.year)
    try:
        from policy.loader import params_at

        cap: Decimal | None = params_at(day).annual_cap
    except LookupError:
        cap = None
    return {
        "year": day.year,
        "grants": grants,
        "total": total,
        "cap": annual.cap if annual else cap,
        "left": (cap - total) if cap is not None else None,
    }


def _supplement_builder(app: Application, notices: list[SupplementNotice]) -> dict[str, Any]:
    changed = set(notices[-1].changed_items) if notices else None
    items = []
    for item in rows.checklist():
        items.append(
            {
                "code": item.item_code,
                "label": item.label,
                "kind": item.kind,
                "enabled": changed is None or item.item_code in changed,
            }
        )
    return {"items": items, "restricted": changed is not None, "round": len(notices) + 1}


@login_required
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    user, app = staff_application(request, pk)
    notices = list(notices_of(app.pk).prefetch_related("items"))
    clock = clock_for(app, notices)
    steps = list(ReviewStep.objects.filter(application=app).select_related("actor"))
    approval_step = next((s for s in reversed(steps) if s.transition == "approve"), None)
    available = transitions.available_transitions(app, user)
    buttons = [
        {"name": n, "label": TRANSITIONS[n].label, "needs_opinion": n in transitions.NEEDS_OPINION}
        for n in available
        if n in TRANSITIONS and n not in ("request_supplement", "pay", "resubmit")
    ]
    materials = [
        (m, material_url(m)) for m in app.materials.filter(deleted=False).order_by("kind", "version")
    ]
    site_checks = list(
        OnSiteCheck.objects.filter(application=app)
        .prefetch_related("attachments")
        .select_related("recorded_by")
    )
    payment = getattr(app, "payment", None) if app.status == Status.PAID else None
    return render(
        request,
        "review/detail.html",
        {
            "app": app,
            "form_rows": rows.form_rows(app, mask_phones=True),
            "materials": materials,
            "calculation": app.calculation or {},
            "approval_calculation": approval_step.data.get("calculation") if approval_step else None,
            "approval_preview": actions.approval_preview(app) if "approve" in available else None,
            "ytd": _ytd(app),
            "history": timeline(app, audience=Audience.STAFF),
            "checks": run_checks(app, clock),
            # Higher apps add their panels (the reconciliation against monitoring, from audits).
            "panels": hooks.collect(hooks.REVIEW_PAGE_PANELS, application=app),
            "clock": clock,
            "buttons": buttons,
            "opinion_form": OpinionForm(),
            "can_request_supplement": "request_supplement" in available,
            "builder": _supplement_builder(app, notices),
            "notices": notices,
            "can_site_check": "on_site_check" in available,
            "can_take_over": transitions.TAKE_OVER in available,
            "claimant": transitions.claimant_of(app),
            "site_check_form": OnSiteCheckForm(initial={"date": timezone.localdate()}),
            "site_checks": site_checks,
            "can_pay": "pay" in available,
            "payment_form": PaymentForm(initial={"date": timezone.localdate(), "amount": app.granted_amount}),
            "payment": payment,
            "can_print": app.status in (Status.APPROVED, Status.PAID, Status.REJECTED, Status.CLAWED_BACK),
        },
    )


_SIMPLE: dict[str, Callable[..., Any]] = {
    "claim": actions.claim_application,
    "pass_initial": actions.pass_initial_review,
    "reject_initial": actions.reject_application,
    "pass_re_review": actions.pass_re_review,
    "return_to_initial": actions.return_application,
    "return_to_re_review": actions.return_application,
    "approve": actions.approve_application,
    "reject_final": actions.reject_application,
}


@login_required
@require_POST
def transition(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    """One of the opinion-only transitions (claim, pass, return, approve, reject)."""
    user, app = staff_application(request, pk)
    action = _SIMPLE.get(name)
    if action is None:
        raise Http404
    if name in REJECTIONS:
        # A rejection ends the case and reaches the enterprise: it is confirmed, with its reason.
        refusal = transitions.check_transition(app, name, user)
        if refusal is not None:
            return _refused(request, ReviewError(refusal.message, status=refusal.status), app)
        reason = RejectionForm(request.POST if confirmed(request) else None, initial=request.POST)
        if not reason.is_valid():
            return rejection_confirmation(request, app, name, reason, status=400 if reason.is_bound else 200)
    form = OpinionForm(request.POST)
    opinion = form.cleaned_data["opinion"] if form.is_valid() else ""
    kwargs: dict[str, Any] = {"actor": user, "opinion": opinion, "request": request}
    if name in ("reject_initial", "reject_final", "return_to_initial", "return_to_re_review"):
        kwargs["transition"] = name
    try:
        action(app, **kwargs)
    except ReviewError as exc:
        return _refused(request, exc, app)
    messages.success(request, _("已办理：%(action)s") % {"action": TRANSITIONS[name].label})
    return redirect("review:detail", pk=app.pk)


@login_required
@require_POST
def supplement_request(request: HttpRequest, pk: int) -> HttpResponse:
    """The checklist builder: every ticked item with its text becomes one notice."""
    user, app = staff_application(request, pk)
    codes = request.POST.getlist("items")
    items = [(code, request.POST.get(f"text:{code}", "")) for code in codes]
    try:
        if not confirmed(request):  # the first click previews; only the confirmation sends
            return supplement_preview(request, app, items, request.POST.get("note", ""), actor=user)
        actions.request_supplement(
            app, items=items, note=request.POST.get("note", ""), actor=user, request=request
        )
    except ReviewError as exc:
        return _refused(request, exc, app)
    messages.success(request, _("已发出一次性补正告知"))
    return redirect("review:detail", pk=app.pk)


@login_required
@require_POST
def take_over(request: HttpRequest, pk: int) -> HttpResponse:
    """Take over the initial review another reviewer claimed; the reason is required and audited."""
    user, app = staff_application(request, pk)
    try:
        actions.take_over_application(
            app, actor=user, reason=request.POST.get("opinion", ""), request=request
        )
    except ReviewError as exc:
        return _refused(request, exc, app)
    messages.success(request, _("已接手本申请的初审"))
    return redirect("review:detail", pk=app.pk)


@login_required
@require_POST
def on_site_check(request: HttpRequest, pk: int) -> HttpResponse:
    user, app = staff_application(request, pk)
    form = OnSiteCheckForm(request.POST, request.FILES)
    if not form.is_valid():
        errors = {field: [str(e) for e in errs] for field, errs in form.errors.items()}
        return _refused(request, ReviewError(errors, status=400, code="invalid"), app)
    data = form.cleaned_data
    try:
        actions.record_on_site_check(
            app,
            date=data["date"],
            people=data["people"],
            findings=data["findings"],
            attachments=data["attachments"],
            actor=user,
            request=request,
        )
    except ReviewError as exc:
        return _refused(request, exc, app)
    messages.success(request, _("已记录实地核查"))
    return redirect("review:detail", pk=app.pk)


@login_required
@require_GET
def attachment(request: HttpRequest, pk: int) -> FileResponse:
    user = current_user(request)
    if not user.has_role(*STAFF_ROLES):
        raise Http404
    item = get_object_or_404(OnSiteAttachment.objects.select_related("check_record"), pk=pk)
    return audited_download(
        request,
        "review.attachment_download",
        obj=item.check_record.application,
        after={"attachment_id": item.pk, "sha256": item.sha256},
        path=str(item.file.name),
        content_type=item.mime,
        filename=item.original_name,
    )


@login_required
@require_POST
def payment(request: HttpRequest, pk: int) -> HttpResponse:
    user, app = staff_application(request, pk)
    form = PaymentForm(request.POST)
    if not form.is_valid():
        errors = {field: [str(e) for e in errs] for field, errs in form.errors.items()}
        return _refused(request, ReviewError(errors, status=400, code="invalid"), app)
    data = form.cleaned_data
    try:
        actions.record_payment(
            app,
            date=data["date"],
            amount=data["amount"],
            bank_reference=data["bank_reference"],
            actor=user,
            request=request,
        )
    except ReviewError as exc:
        return _refused(request, exc, app)
    messages.success(request, _("已登记兑现"))
    return redirect("review:detail", pk=app.pk)


@login_required
@require_GET
def approval_form(request: HttpRequest, pk: int) -> HttpResponse:
    """The docs/form.md form with the three approval boxes filled from the review record."""
    user, app = staff_application(request, pk)
    from applications.pdf import render_application_pdf  # type: ignore[import-not-found,unused-ignore]

    steps = list(ReviewStep.objects.filter(application=app).select_related("actor").order_by("at", "id"))
    pdf = render_application_pdf(app, with_opinions=True, opinions=_opinions(steps))
    record_event("review.approval_form_print", actor=user, obj=app, request=request)
    return issued_pdf_response(pdf, _("审批表-%(reference)s.pdf") % {"reference": app.reference or app.pk})
