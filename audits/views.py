"""Audit pages: the inspector workbench, spot checks, reconciliation, findings with notices and
objections, clawbacks, the blacklist and its export, and the applicant's notices.

Views are glue: check the role, fetch with permission, validate, call one action, render.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import User, current_user
from accounts.roles import Role
from applications.models import Application
from audits import findings as audits_findings
from audits import legal, quarters, reconciliation, rules, spotchecks
from audits.evidence import evidence_for
from audits.forms import DecisionForm, FindingForm, NoticeForm, ObjectionForm, QuarterForm, ReconcileForm
from audits.models import Clawback, DataNotice, Finding, Objection, ObjectionEvidence, SpotCheck
from audits.queries import latest_run, latest_runs
from audits.sampling import SampleUnavailable, compute_sample, describe_formula, sample_document
from audits.view_helpers import (
    READERS,
    RUNNERS,
    flash_errors,
    refused_response,
    user_with,
    workdays_left_until,
)
from core.formats import date_text
from core.pagination import paginate
from enterprises.models import Enterprise
from ledger.downloads import audited_download

# --- inspector workbench -----------------------------------------------------------------------------


@login_required
def workbench(request: HttpRequest) -> HttpResponse:
    """稽查工作台: open findings with their deadlines, samples by quarter, the reconciliation overview."""
    user_with(request, Role.INSPECTOR)
    findings = list(
        Finding.objects.filter(
            status__in=[Finding.Status.OPEN, Finding.Status.NOTIFIED, Finding.Status.OBJECTED]
        )
        .select_related("application__enterprise", "notice", "spot_check")
        .order_by("created_at", "id")
    )
    today = timezone.localdate()
    rows = []
    for f in findings:
        notice = getattr(f, "notice", None)
        deadline = notice.objection_deadline if notice is not None else None
        rows.append(
            {
                "finding": f,
                "deadline": deadline,
                "days_left": workdays_left_until(deadline) if deadline else None,
                "ready": f.status == Finding.Status.OBJECTED
                or (f.status == Finding.Status.NOTIFIED and deadline is not None and today > deadline),
            }
        )
    runs = latest_runs()
    by_code: dict[str, int] = dict.fromkeys(rules.FLAG_CODES, 0)
    for flags in runs.filter(flag_count__gt=0).values_list("flags", flat=True):
        for code in {f["code"] for f in flags}:
            by_code[code] = by_code.get(code, 0) + 1
    overview = runs.aggregate(total=Count("pk"), flagged=Count("pk", filter=Q(flag_count__gt=0)))
    return render(
        request,
        "audits/workbench.html",
        {
            "rows": rows,
            "spot_checks": SpotCheck.objects.order_by("-quarter")[:12],
            "quarter_form": QuarterForm.suggested(),
            "overview": overview,
            "by_code": [(code, rules.flag_label(code), n) for code, n in by_code.items()],
            "flagged": runs.filter(flag_count__gt=0).select_related("application").order_by("-run_at")[:20],
            "open_clawbacks": Clawback.objects.exclude(status=Clawback.Status.REPAID).count(),
            "blacklisted": Enterprise.objects.filter(blacklisted=True).count(),
        },
    )


@login_required
def reconciliation_list(request: HttpRequest) -> HttpResponse:
    """对账总览: the latest run of each application, flagged ones first, filterable by flag."""
    user_with(request, *READERS)
    code = request.GET.get("flag", "")
    qs = latest_runs().select_related("application").order_by("-flag_count", "-run_at", "-id")
    if code in rules.FLAG_CODES:
        qs = qs.filter(flags__icontains=f'"{code}"')
    page = paginate(request, qs, 50)
    return render(
        request,
        "audits/reconciliation_list.html",
        {"page": page, "flag": code, "codes": [(c, rules.flag_label(c)) for c in rules.FLAG_CODES]},
    )


@login_required
@require_POST
def reconcile_all(request: HttpRequest) -> HttpResponse:
    user = user_with(request, Role.INSPECTOR)
    runs = reconciliation.reconcile_many(actor=user)
    flagged = sum(1 for r in runs if r.flag_count)
    messages.success(
        request, _("已对账 %(n)d 件申请，其中 %(flagged)d 件有标记。") % {"n": len(runs), "flagged": flagged}
    )
    return redirect("audits:reconciliation")


# --- spot checks ------------------------------------------------------------------------------------------


@login_required
@require_POST
def open_spot_check(request: HttpRequest) -> HttpResponse:
    user = user_with(request, Role.INSPECTOR)
    form = QuarterForm(request.POST)
    if not form.is_valid():
        flash_errors(request, form)
        return redirect("audits:workbench")
    try:
        spot = spotchecks.open_spot_check(form.cleaned_data["quarter"], actor=user, request=request)
    except SampleUnavailable as exc:
        messages.error(request, str(exc))
        return redirect("audits:workbench")
    return redirect("audits:spot_check", quarter=spot.quarter)


@login_required
def spot_check(request: HttpRequest, quarter: str) -> HttpResponse:
    """The quarter's sample with the seed, the checkpoint and the formula, so anyone can recompute it."""
    user = user_with(request, *READERS)
    try:
        q = quarters.Quarter.parse(quarter)
    except ValueError as exc:
        raise Http404 from exc
    spot = SpotCheck.objects.filter(quarter=str(q)).first()
    context: dict[str, Any] = {"quarter": str(q), "spot": spot, "can_open": user.has_role(Role.INSPECTOR)}
    try:
        sample, checkpoint, params = compute_sample(q)
    except SampleUnavailable as exc:
        context["unavailable"] = str(exc)
        return render(request, "audits/spot_check.html", context)
    doc = sample_document(sample, checkpoint, params, spot)
    apps = Application.objects.in_bulk(sample.sample_ids)
    findings: dict[int, list[Finding]] = {}
    if spot is not None:
        for f in Finding.objects.filter(spot_check=spot).order_by("id"):
            findings.setdefault(f.application_id, []).append(f)
    latest = {r.application_id: r for r in latest_runs().filter(application_id__in=sample.sample_ids)}
    context.update(
        {
            "doc": doc,
            "formula": describe_formula(str(q)),
            "sampled": [
                {
                    "position": i + 1,
                    "app": apps.get(app_id),
                    "order_key": key.hex(),
                    "run": latest.get(app_id),
                    "findings": findings.get(app_id, []),
                }
                for i, (app_id, key) in enumerate(sample.ordered[: sample.k])
            ],
            "matches": spot is None or spot.sample_ids == sample.sample_ids,
            "finding_form": FindingForm(initial={"source": Finding.Source.SPOT_CHECK}),
        }
    )
    return render(request, "audits/spot_check.html", context)


# --- reconciliation of one application ---------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def application(request: HttpRequest, pk: int) -> HttpResponse:
    """An application's reconciliation: latest result with its numbers, history, run again, record a finding."""
    user = user_with(request, *READERS)
    app = get_object_or_404(Application.objects.select_related("enterprise"), pk=pk)
    form = ReconcileForm(request.POST or None)
    if request.method == "POST":
        if not user.has_role(*RUNNERS):
            raise PermissionDenied
        if form.is_valid():
            try:
                reconciliation.run_reconciliation(
                    app,
                    actor=user,
                    settlement_amount=form.cleaned_data["settlement_amount"],
                    request=request,
                )
            except ValidationError as exc:
                refused_response(request, exc, form)
            else:
                messages.success(request, _("已完成对账。"))
                return redirect("audits:application", pk=app.pk)
    runs = list(app.reconciliation_runs.order_by("-run_at", "-id")[:20])
    return render(
        request,
        "audits/application.html",
        {
            "app": app,
            "run": runs[0] if runs else None,
            "history": runs,
            "form": form,
            "can_run": user.has_role(*RUNNERS),
            "is_inspector": user.has_role(Role.INSPECTOR),
            "finding_form": FindingForm(initial={"source": Finding.Source.RECONCILIATION}),
            "findings": app.findings.order_by("-created_at"),
            "clawback": Clawback.objects.filter(application=app).first(),
            "evidence_panel": {"evidence": evidence_for(app)},
        },
    )


# --- findings -----------------------------------------------------------------------------------------


@login_required
@require_POST
def record_finding(request: HttpRequest, pk: int) -> HttpResponse:
    user = user_with(request, Role.INSPECTOR)
    app = get_object_or_404(Application, pk=pk)
    form = FindingForm(request.POST)
    if not form.is_valid():
        flash_errors(request, form)
        return redirect("audits:application", pk=app.pk)
    source = form.cleaned_data["source"]
    spot = None
    run = None
    if source == Finding.Source.SPOT_CHECK:
        spot = SpotCheck.objects.filter(quarter=request.POST.get("quarter", "")).first()
    elif source == Finding.Source.RECONCILIATION:
        run = latest_run(app)
    try:
        finding = audits_findings.record_finding(
            app,
            actor=user,
            description=form.cleaned_data["description"],
            source=source,
            spot_check=spot,
            reconciliation_run=run,
            amount_at_issue=form.cleaned_data["amount_at_issue"],
            request=request,
        )
    except ValidationError as exc:
        refused_response(request, exc)
        return redirect("audits:application", pk=app.pk)
    return redirect("audits:finding", pk=finding.pk)


def _finding_context(finding: Finding) -> dict[str, Any]:
    notice = DataNotice.objects.filter(finding=finding).first()
    objection = (
        Objection.objects.filter(notice=notice).prefetch_related("evidence").first() if notice else None
    )
    return {
        "finding": finding,
        "notice": notice,
        "objection": objection,
        "days_left": workdays_left_until(notice.objection_deadline) if notice else None,
        "run": finding.reconciliation_run,
    }


@login_required
def finding(request: HttpRequest, pk: int) -> HttpResponse:
    """A finding with its data notice, the enterprise's objection and the decision."""
    user = user_with(request, Role.INSPECTOR)
    f = get_object_or_404(
        Finding.objects.select_related("application__enterprise", "reconciliation_run", "spot_check"), pk=pk
    )
    return _render_finding(request, f, user)


def _render_finding(
    request: HttpRequest,
    f: Finding,
    user: User,
    *,
    notice_form: NoticeForm | None = None,
    decision_form: DecisionForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = _finding_context(f)
    context.update(
        {
            "notice_form": notice_form or NoticeForm(initial={"text": f.description}),
            "decision_form": decision_form or DecisionForm(),
            "clawback": Clawback.objects.filter(application=f.application).first(),
        }
    )
    return render(request, "audits/finding.html", context, status=status)


@login_required
@require_POST
def send_notice(request: HttpRequest, pk: int) -> HttpResponse:
    user = user_with(request, Role.INSPECTOR)
    f = get_object_or_404(Finding.objects.select_related("application"), pk=pk)
    form = NoticeForm(request.POST)
    if form.is_valid():
        try:
            notice = audits_findings.send_data_notice(f, actor=user, text=form.cleaned_data["text"], request=request)
        except ValidationError as exc:
            refused_response(request, exc, form)
        else:
            messages.success(
                request,
                _("已向企业发送数据告知，异议截止 %(deadline)s。")
                % {"deadline": date_text(notice.objection_deadline)},
            )
            return redirect("audits:finding", pk=f.pk)
    return _render_finding(request, f, user, notice_form=form, status=400)


@login_required
@require_POST
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    user = user_with(request, Role.INSPECTOR)
    f = get_object_or_404(Finding.objects.select_related("application"), pk=pk)
    form = DecisionForm(request.POST)
    if form.is_valid():
        try:
            audits_findings.decide_finding(
                f,
                actor=user,
                upheld=form.cleaned_data["decision"] in ("upheld", "partial"),
                reasons=form.cleaned_data["reasons"],
                amount_found=form.cleaned_data["amount_found"]
                if form.cleaned_data["decision"] == "partial"
                else None,
                request=request,
            )
        except ValidationError as exc:
            refused_response(request, exc, form)
        else:
            messages.success(request, _("已作出认定。"))
            return redirect("audits:finding", pk=f.pk)
    return _render_finding(request, f, user, decision_form=form, status=400)


@login_required
def evidence(request: HttpRequest, pk: int) -> FileResponse:
    """An objection's evidence file: for inspectors and the objecting enterprise; others get 404."""
    user = current_user(request)
    item = get_object_or_404(
        ObjectionEvidence.objects.select_related("objection__notice__finding__application"), pk=pk
    )
    enterprise_id = item.objection.notice.finding.application.enterprise_id
    own = user.has_role(Role.APPLICANT) and user.enterprise_id == enterprise_id
    if not (own or user.has_role(Role.INSPECTOR)):
        raise Http404
    return audited_download(
        request,
        "audit.evidence_download",
        obj=item.objection,
        enterprise_id=enterprise_id,
        path=str(item.file.name),
        content_type=item.mime,
        filename=item.original_name,
    )


# --- the applicant's notices -------------------------------------------------------------------------------


def _own_notice(request: HttpRequest, pk: int) -> tuple[User, DataNotice]:
    user = current_user(request)
    if not user.has_role(Role.APPLICANT) or user.enterprise_id is None:
        raise Http404
    notice = get_object_or_404(
        DataNotice.objects.select_related("finding__application"),
        pk=pk,
        finding__application__enterprise_id=user.enterprise_id,
    )
    return user, notice


@login_required
def notices(request: HttpRequest) -> HttpResponse:
    """The enterprise's data notices (数据告知) with their objection deadlines."""
    user = current_user(request)
    if not user.has_role(Role.APPLICANT) or user.enterprise_id is None:
        raise PermissionDenied
    qs = (
        DataNotice.objects.filter(finding__application__enterprise_id=user.enterprise_id)
        .select_related("finding__application", "objection")
        .order_by("-notice_date", "-id")
    )
    return render(request, "audits/notices.html", {"notices": qs, "today": timezone.localdate()})


@login_required
@require_http_methods(["GET", "POST"])
def notice(request: HttpRequest, pk: int) -> HttpResponse:
    """One data notice and the objection form (statement and evidence), open until the deadline."""
    user, n = _own_notice(request, pk)
    if n.read_at is None:
        DataNotice.objects.filter(pk=n.pk, read_at__isnull=True).update(read_at=timezone.now())
    form = ObjectionForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                audits_findings.file_objection(
                    n,
                    actor=user,
                    statement=form.cleaned_data["statement"],
                    files=form.cleaned_data["evidence"],
                    request=request,
                )
            except ValidationError as exc:
                refused_response(request, exc, form)
                status = 400
            else:
                messages.success(request, _("异议已提交，稽查人员将审阅后作出认定。"))
                return redirect("audits:notice", pk=n.pk)
        else:
            status = 400
    objection = Objection.objects.filter(notice=n).prefetch_related("evidence").first()
    today = timezone.localdate()
    return render(
        request,
        "audits/notice.html",
        {
            "notice": n,
            "finding": n.finding,
            "objection": objection,
            "form": form,
            "open": objection is None
            and today <= n.objection_deadline
            and n.finding.status == Finding.Status.NOTIFIED,
            "late": today > n.objection_deadline,
            "days_left": workdays_left_until(n.objection_deadline),
            "document": legal.data_notice_document(n),
        },
        status=status,
    )
