"""The enterprise's works and offers (docs/offers.md): register a work, record its launch, read the offer,
accept it in one step and confirm, or decline."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_http_methods

from accounts.models import User, current_user
from accounts.roles import STAFF_ROLES, Role
from applications.models import Material, Offer, Work
from applications.works import platform_held_kinds, register_work, verify_filing
from core.filetypes import DOCUMENT_TYPES
from core.refusals import Refused, show_refusal
from core.uploads import check_upload
from review import offers
from review.payment_batches import latest_account


class WorkForm(forms.Form):
    title = forms.CharField(label=_l("作品名称"), max_length=100)
    expected_filing_number = forms.CharField(label=_l("预计备案编号"), max_length=64, required=False)
    planned_platforms = forms.CharField(label=_l("计划上线平台"), max_length=100, required=False)


class LaunchForm(forms.Form):
    launch_date = forms.DateField(label=_l("上线时间"), widget=forms.DateInput(attrs={"type": "date"}))
    platforms = forms.CharField(label=_l("上线平台名称"), max_length=100)
    play_url = forms.URLField(label=_l("播放链接"), max_length=300, assume_scheme="https")
    filing_number = forms.CharField(label=_l("作品备案证明编号"), max_length=64)
    work_minutes = forms.IntegerField(label=_l("作品制作时长（分钟）"), min_value=1, max_value=100000)
    screenshot = forms.FileField(label=_l("上线截图"))


def _applicant(request: HttpRequest) -> User:
    user = current_user(request)
    if not user.has_role(Role.APPLICANT) or user.enterprise_id is None:
        raise PermissionDenied
    return user


@login_required
@require_http_methods(["GET", "POST"])
def works(request: HttpRequest) -> HttpResponse:
    """The enterprise's works: register one; each with its reference, launch and offer."""
    user = _applicant(request)
    form = WorkForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                work = register_work(actor=user, request=request, **form.cleaned_data)
            except Refused as exc:
                show_refusal(request, exc, form)
                status = exc.status
            else:
                messages.success(
                    request,
                    _("作品已登记，作品编号 %(ref)s：请提供方和监控代理在用量上填写此编号")
                    % {"ref": work.reference},
                )
                return redirect("review:works")
        else:
            status = 400
    assert user.enterprise_id is not None
    rows = Work.objects.filter(enterprise_id=user.enterprise_id).select_related("offer").order_by("-id")
    return render(request, "review/offers/works.html", {"works": rows, "form": form}, status=status)


def _own_work(request: HttpRequest, pk: int) -> tuple[User, Work]:
    user = _applicant(request)
    work = get_object_or_404(Work, pk=pk)
    if work.enterprise_id != user.enterprise_id:
        raise Http404
    return user, work


@login_required
@require_http_methods(["GET", "POST"])
def launch(request: HttpRequest, pk: int) -> HttpResponse:
    """Record the launch: the platform computes and pushes the offer."""
    user, work = _own_work(request, pk)
    if work.launched:
        return redirect("review:works")
    form = LaunchForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                screenshot = check_upload(data["screenshot"], DOCUMENT_TYPES)
                offer = offers.record_launch(
                    work,
                    actor=user,
                    launch_date=data["launch_date"],
                    platforms=data["platforms"],
                    play_url=data["play_url"],
                    filing_number=data["filing_number"],
                    work_minutes=data["work_minutes"],
                    screenshot=screenshot,
                    request=request,
                )
            except (Refused, ValidationError) as exc:
                show_refusal(request, exc, form)
                status = getattr(exc, "status", 400)
            else:
                return redirect("review:offer", pk=offer.pk)
        else:
            status = 400
    return render(request, "review/offers/launch.html", {"work": work, "form": form}, status=status)


def _offer_context(offer: Offer) -> dict[str, Any]:
    application = offer.application
    materials: list[Material] = list(application.current_materials()) if application is not None else []
    return {
        "offer": offer,
        "work": offer.work,
        "application": application,
        "materials": materials,
        "held": sorted(str(k) for k in platform_held_kinds(application)) if application is not None else [],
        "lines": offer.lines[:200],
        "account": latest_account(offer.work.enterprise_id),
    }


@login_required
@require_http_methods(["GET", "POST"])
def offer(request: HttpRequest, pk: int) -> HttpResponse:
    """The offer: estimate, breakdown, evidence held, what is missing, apply-by date; accept, confirm
    or decline. Staff may read it."""
    user = current_user(request)
    item = get_object_or_404(Offer.objects.select_related("work", "work__enterprise", "application"), pk=pk)
    staff = user.has_role(*STAFF_ROLES)
    if not staff and (not user.has_role(Role.APPLICANT) or user.enterprise_id != item.work.enterprise_id):
        raise Http404
    status = 200
    if request.method == "POST":
        if staff:
            raise PermissionDenied
        action = request.POST.get("action", "")
        try:
            if action == "accept":
                offers.accept_offer(item, actor=user, request=request)
                messages.success(request, _("已按平台数据生成申请，请核对后确认提交"))
            elif action == "confirm" and item.application is not None:
                submitted = offers.confirm_offer(item.application, actor=user, request=request)
                messages.success(
                    request, _("已确认并提交申报，申报编号 %(ref)s") % {"ref": submitted.reference}
                )
            elif action == "decline":
                offers.decline_offer(item, actor=user, reason=request.POST.get("reason", ""), request=request)
                messages.success(request, _("已放弃该补助推送"))
            else:
                raise Http404
        except (Refused, ValidationError) as exc:
            show_refusal(request, exc)
            status = getattr(exc, "status", 400)
        else:
            return redirect("review:offer", pk=item.pk)
        item.refresh_from_db()
    return render(request, "review/offers/offer.html", _offer_context(item), status=status)


@login_required
@require_http_methods(["POST"])
def verify_filing_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Staff mark a launched work's filing certificate as verified, from the workbench."""
    user = current_user(request)
    if not user.has_role(*STAFF_ROLES):
        raise PermissionDenied
    work = get_object_or_404(Work, pk=pk)
    try:
        verify_filing(work, actor=user, request=request)
    except Refused as exc:
        show_refusal(request, exc)
    else:
        messages.success(request, _("已核验《%(title)s》的备案证明") % {"title": work.title})
    return redirect("review:workbench")
