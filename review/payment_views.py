"""Pages of payment instructions (docs/payments.md): finance's batch of approved applications with the
exports, staff verification of 对公账户, and the enterprise's own account."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_GET, require_http_methods

from accounts.models import current_user
from accounts.roles import Role
from applications.models import Application
from core.refusals import Refused, show_refusal
from core.signing import issued_pdf_response
from core.xlsx import xlsx_response
from enterprises.models import Enterprise
from review import payment_batches as batches
from review.access import staff_user
from review.models import PayeeAccount, PaymentInstruction, PaymentInstructionItem


class AccountForm(forms.Form):
    account_name = forms.CharField(label=_l("户名"), max_length=100)
    account_number = forms.CharField(label=_l("账号"), max_length=40)
    bank_name = forms.CharField(label=_l("开户行"), max_length=100)
    bank_code = forms.CharField(label=_l("联行号（12 位）"), max_length=12)


class PaymentForm(forms.Form):
    date = forms.DateField(label=_l("兑现日期"), widget=forms.DateInput(attrs={"type": "date"}))
    bank_reference = forms.CharField(label=_l("银行流水号"), max_length=64)


@login_required
@require_http_methods(["GET", "POST"])
def instructions(request: HttpRequest) -> HttpResponse:
    """Approved applications not yet in an instruction, each with why it cannot be paid; finance batches them."""
    user = staff_user(request)
    status = 200
    if request.method == "POST":
        if not user.has_role(Role.FINANCE):
            raise PermissionDenied
        ids = [int(v) for v in request.POST.getlist("application") if v.isdigit()]
        try:
            instruction = batches.create_instruction(
                list(Application.objects.filter(pk__in=ids)),
                actor=user,
                budget_line=request.POST.get("budget_line", ""),
                request=request,
            )
        except Refused as exc:
            show_refusal(request, exc)
            status = exc.status
        else:
            messages.success(request, _("已生成支付申请 %(number)s") % {"number": instruction.number})
            return redirect("review:payment_instruction", pk=instruction.pk)
    waiting = [(app, batches.payee_refusal(app)) for app in batches.approved_without_instruction()[:200]]
    return render(
        request,
        "review/payments/instructions.html",
        {
            "waiting": waiting,
            "instructions": PaymentInstruction.objects.all()[:50],
            "finance": user.has_role(Role.FINANCE),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def instruction(request: HttpRequest, pk: int) -> HttpResponse:
    """One instruction: its items and the payment recorded for each, referring to it."""
    user = staff_user(request)
    item_list = get_object_or_404(PaymentInstruction, pk=pk)
    form = PaymentForm(request.POST or None, initial={"date": timezone.localdate()})
    status = 200
    if request.method == "POST":
        if not user.has_role(Role.FINANCE):
            raise PermissionDenied
        item = get_object_or_404(
            PaymentInstructionItem, pk=request.POST.get("item", "0"), instruction=item_list
        )
        if form.is_valid():
            try:
                batches.record_item_payment(item, actor=user, request=request, **form.cleaned_data)
            except (Refused, ValidationError) as exc:
                show_refusal(request, exc, form)
                status = getattr(exc, "status", 400)
            else:
                messages.success(request, _("已登记兑现"))
                return redirect("review:payment_instruction", pk=item_list.pk)
        else:
            status = 400
    items = item_list.items.select_related("application", "payee", "payment")
    return render(
        request,
        "review/payments/instruction.html",
        {"instruction": item_list, "items": items, "form": form, "finance": user.has_role(Role.FINANCE)},
        status=status,
    )


@login_required
@require_GET
def export(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    staff_user(request)
    item = get_object_or_404(PaymentInstruction, pk=pk)
    name = _("支付申请-%(number)s") % {"number": item.number}
    if fmt == "xlsx":
        return xlsx_response(batches.instruction_xlsx(item), f"{item.number}.xlsx")
    if fmt == "pdf":
        return issued_pdf_response(batches.instruction_pdf(item), f"{name}.pdf")
    if fmt == "csv":
        response = HttpResponse(batches.instruction_csv(item), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{item.number}.csv"'
        response["X-Content-Type-Options"] = "nosniff"
        return response
    raise Http404


@login_required
@require_http_methods(["GET", "POST"])
def accounts(request: HttpRequest) -> HttpResponse:
    """Staff verify the 对公账户 enterprises stated."""
    user = staff_user(request)
    status = 200
    if request.method == "POST":
        account = get_object_or_404(PayeeAccount, pk=request.POST.get("account", "0"))
        try:
            batches.verify_payee_account(
                account,
                actor=user,
                approve=request.POST.get("decision") == "verify",
                note=request.POST.get("note", ""),
                request=request,
            )
        except Refused as exc:
            show_refusal(request, exc)
            status = exc.status
        else:
            return redirect("review:payee_accounts")
    pending = PayeeAccount.objects.filter(status=PayeeAccount.Status.PENDING).select_related("enterprise")
    return render(request, "review/payments/accounts.html", {"pending": pending}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def my_account(request: HttpRequest) -> HttpResponse:
    """The enterprise states or changes its 对公账户; it is paid to once staff verify it."""
    user = current_user(request)
    if not user.has_role(Role.APPLICANT) or user.enterprise_id is None:
        raise PermissionDenied
    enterprise = get_object_or_404(Enterprise, pk=user.enterprise_id)
    form = AccountForm(request.POST or None, initial={"account_name": enterprise.name})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                batches.submit_payee_account(enterprise, actor=user, request=request, **form.cleaned_data)
            except Refused as exc:
                show_refusal(request, exc, form)
                status = exc.status
            else:
                messages.success(request, _("对公账户已提交，区文促中心核验后用于拨付补助"))
                return redirect("review:my_account")
        else:
            status = 400
    return render(
        request,
        "review/payments/my_account.html",
        {"form": form, "account": batches.latest_account(enterprise.pk)},
        status=status,
    )
