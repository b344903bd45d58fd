from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render

from accounts.roles import STAFF_ROLES, Role


def home(request: HttpRequest) -> HttpResponse:
    """The portal: 申报入口, 补贴政策, 登录."""
    return render(request, "portal/home.html")


def policy_info(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/policy.html")


@login_required
def workbench(request: HttpRequest) -> HttpResponse:
    """The landing page after login: a staff workbench, or the enterprise's/provider's own view."""
    user = request.user
    if user.has_role(Role.APPLICANT):  # type: ignore[union-attr]
        enterprise = user.enterprise  # type: ignore[union-attr]
        # An enterprise that may apply lands on its applications; one awaiting verification on its record.
        return redirect(
            "applications:list" if enterprise is not None and enterprise.can_apply else "enterprises:mine"
        )
    if user.has_role(Role.PROVIDER):  # type: ignore[union-attr]
        return redirect("/monitoring/")
    cards = []
    roles = set(user.role_codes())  # type: ignore[union-attr]
    if Role.REVIEWER in roles:
        cards.append(("待核验企业", "enterprises:pending"))
    if roles & STAFF_ROLES:
        cards.append(("审核工作台", "review:workbench"))
    if Role.INSPECTOR in roles:
        cards.append(("稽查工作台", "audits:workbench"))
    if roles & {Role.INSPECTOR, Role.SYSADMIN}:
        cards.append(("算力提供方", "monitoring:providers"))
    if roles & {Role.INSPECTOR, Role.AUDITADMIN}:
        cards.append(("不可篡改日志", "ledger:index"))
    if roles & STAFF_ROLES:
        cards.append(("统计报表", "reports:dashboard"))
    return render(
        request,
        "portal/workbench.html",
        {"cards": cards, "is_staff_user": bool(roles & STAFF_ROLES), "roles": roles},
    )


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # Fails closed: a generic page with no detail of the error.
    return render(request, "500.html", status=500)
