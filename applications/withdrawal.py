"""Withdrawing an application (with a reason) and deleting a draft: each behind a confirmation.

GET shows the confirmation page (``core.confirm``); only a POST that carries the
confirmation — and, for a withdrawal, a reason — acts. Another enterprise's application is a 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_http_methods

from accounts.models import current_user
from applications import actions
from applications.models import Application
from applications.views import get_own_application
from core.confirm import ReasonForm, confirm_page, confirmed

WITHDRAW_REASONS = (
    ("materials_wrong", _l("材料有误，需重新申请")),
    ("project_cancelled", _l("项目取消")),
    ("not_eligible", _l("经核对不符合申报条件")),
)


def _summary(application: Application) -> list[tuple[str, str]]:
    return [
        (_("作品"), application.work_title or _("未命名作品")),
        (_("申报编号"), application.reference or _("（未提交）")),
        (_("当前状态"), application.get_status_display()),
    ]


@login_required
@require_http_methods(["GET", "POST"])
def withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    application = get_own_application(request, pk)
    detail = reverse("applications:detail", args=[application.pk])
    form = ReasonForm(request.POST if confirmed(request) else None, reasons=WITHDRAW_REASONS)
    if form.is_bound and form.is_valid():
        try:
            actions.withdraw_application(
                application, actor=current_user(request), reason=form.reason, request=request
            )
        except actions.ActionRefused as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("申请已撤回。"))
        return redirect(detail)
    return confirm_page(
        request,
        title=_("撤回申请"),
        consequence=_(
            "撤回后本申请不再办理，申报编号作废；如需继续申报，须重新填写并提交。请选择撤回原因，原因将记入办理记录。"
        ),
        action=reverse("applications:withdraw", args=[application.pk]),
        button=_("确认撤回"),
        cancel=detail,
        summary=_summary(application),
        form=form,
        carry=[],
        status=400 if form.is_bound else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    application = get_own_application(request, pk)
    detail = reverse("applications:detail", args=[application.pk])
    if confirmed(request):
        try:
            actions.delete_draft(application, actor=current_user(request), request=request)
        except actions.ActionRefused as exc:
            messages.error(request, exc.message)
            return redirect(detail)
        messages.success(request, _("草稿已删除。"))
        return redirect("applications:list")
    if not actions.deletable(application):
        messages.error(request, _("只能删除从未提交的草稿；已提交的申请请撤回"))
        return redirect(detail)
    count = application.materials.filter(deleted=False).count()
    return confirm_page(
        request,
        title=_("删除草稿"),
        consequence=_("草稿及已上传的 %(n)d 份材料将被永久删除，不能恢复。") % {"n": count},
        action=reverse("applications:delete", args=[application.pk]),
        button=_("确认删除"),
        cancel=detail,
        summary=_summary(application),
        carry=[],
    )
