"""The audit pages of a fraud outcome: the clawback, its repayments and write-off, the blacklist."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.roles import Role
from applications.models import Application
from audits import fraud
from audits.confirmations import blacklist_confirmation, clawback_confirmation
from audits.forms import BlacklistForm, ClawbackForm, LiftForm, RepaymentForm, WriteOffForm
from audits.models import Clawback
from audits.view_helpers import READERS, flash_errors, refused_response, user_with
from core.confirm import confirmed
from enterprises.models import Enterprise
from ledger.actions import record_event


@login_required
@require_http_methods(["GET", "POST"])
def clawback(request: HttpRequest, pk: int) -> HttpResponse:
    """追回: all or part of the payment, the finding's amount proposed, to be repaid."""
    user = user_with(request, Role.INSPECTOR)
    app = get_object_or_404(Application.objects.select_related("enterprise"), pk=pk)
    form = ClawbackForm(request.POST or None, application=app, finding_id=request.GET.get("finding"))
    if request.method == "POST" and form.is_valid():
        if not confirmed(request):
            return clawback_confirmation(request, app, form.cleaned_data)
        try:
            claw = fraud.claw_back(
                app,
                form.cleaned_data["amount"],
                actor=user,
                reason=form.cleaned_data["reason"],
                finding=form.cleaned_data["finding"],
                request=request,
            )
        except ValidationError as exc:
            refused_response(request, exc, form)
        else:
            messages.success(
                request, _("已决定追回，应收 %(amount)s 元。") % {"amount": f"{claw.amount:,.2f}"}
            )
            return redirect("audits:clawbacks")
    return render(
        request, "audits/clawback.html", {"app": app, "form": form}, status=400 if form.errors else 200
    )


@login_required
def clawbacks(request: HttpRequest) -> HttpResponse:
    """追回应收款: every clawback with what is repaid and outstanding."""
    user = user_with(request, Role.INSPECTOR, Role.FINANCE)
    qs = (
        Clawback.objects.select_related("application", "finding")
        .prefetch_related("repayments")
        .order_by("status", "-created_at")
    )
    return render(
        request,
        "audits/clawbacks.html",
        {"clawbacks": qs, "form": RepaymentForm(), "can_write_off": user.has_role(Role.FINANCE)},
    )


@login_required
@require_POST
def write_off(request: HttpRequest, pk: int) -> HttpResponse:
    """核销: finance closes a receivable that cannot be collected."""
    user = user_with(request, Role.FINANCE)
    claw = get_object_or_404(Clawback, pk=pk)
    form = WriteOffForm(request.POST)
    if not form.is_valid():
        flash_errors(request, form)
        return redirect("audits:clawbacks")
    try:
        fraud.write_off_clawback(claw, reason=form.cleaned_data["reason"], actor=user, request=request)
    except ValidationError as exc:
        refused_response(request, exc)
    else:
        messages.success(request, _("已核销。"))
    return redirect("audits:clawbacks")


@login_required
@require_POST
def repay(request: HttpRequest, pk: int) -> HttpResponse:
    user = user_with(request, Role.INSPECTOR, Role.FINANCE)
    claw = get_object_or_404(Clawback, pk=pk)
    form = RepaymentForm(request.POST)
    if not form.is_valid():
        flash_errors(request, form)
        return redirect("audits:clawbacks")
    try:
        fraud.record_repayment(
            claw,
            amount=form.cleaned_data["amount"],
            date=form.cleaned_data["date"],
            reference=form.cleaned_data["reference"],
            actor=user,
            request=request,
        )
    except ValidationError as exc:
        refused_response(request, exc)
    else:
        messages.success(request, _("已登记到账。"))
    return redirect("audits:clawbacks")


# --- blacklist ------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def blacklist(request: HttpRequest) -> HttpResponse:
    """黑名单: the blacklisted enterprises with reasons; inspectors add and lift entries here."""
    user = user_with(request, *READERS)
    form = BlacklistForm(request.POST or None)
    if request.method == "POST":
        if not user.has_role(Role.INSPECTOR):
            raise PermissionDenied
        if form.is_valid():
            if not confirmed(request):
                return blacklist_confirmation(request, form.cleaned_data)
            try:
                fraud.blacklist_enterprise(
                    form.cleaned_data["enterprise"],
                    reason=form.cleaned_data["reason"],
                    actor=user,
                    request=request,
                )
            except ValidationError as exc:
                refused_response(request, exc, form)
            else:
                messages.success(request, _("已列入黑名单。"))
                return redirect("audits:blacklist")
    entries = Enterprise.objects.filter(blacklisted=True).order_by("-blacklisted_at", "name")
    return render(
        request,
        "audits/blacklist.html",
        {
            "entries": entries,
            "form": form,
            "lift_form": LiftForm(),
            "is_inspector": user.has_role(Role.INSPECTOR),
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def lift(request: HttpRequest, pk: int) -> HttpResponse:
    user = user_with(request, Role.INSPECTOR)
    enterprise = get_object_or_404(Enterprise, pk=pk)
    form = LiftForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请填写移出理由"))
        return redirect("audits:blacklist")
    try:
        fraud.lift_blacklist(enterprise, reason=form.cleaned_data["reason"], actor=user, request=request)
    except ValidationError as exc:
        refused_response(request, exc)
    else:
        messages.success(request, _("已移出黑名单。"))
    return redirect("audits:blacklist")


@login_required
def blacklist_export(request: HttpRequest) -> HttpResponse:
    """The blacklist as XLSX, formula-injection safe (docs/security.md); the export is audited."""
    from openpyxl import Workbook

    from core.xlsx import write_sheet, xlsx_response

    user = user_with(request, *READERS)
    entries = Enterprise.objects.filter(blacklisted=True).order_by("-blacklisted_at", "name")
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = _("黑名单")
    count = write_sheet(
        ws,
        [_("企业名称"), _("统一社会信用代码"), _("列入时间"), _("原因")],
        ([e.name, e.uscc, e.blacklisted_at, e.blacklist_reason] for e in entries),
        widths=[36, 22, 20, 60],
    )
    record_event("audit.blacklist_export", actor=user, after={"rows": count}, request=request)
    return xlsx_response(wb, f"blacklist-{timezone.localdate():%Y%m%d}.xlsx")
