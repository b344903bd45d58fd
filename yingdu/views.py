from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts.roles import STAFF_ROLES, Role


def home(request: HttpRequest) -> HttpResponse:
    """The portal: 申报入口, 补贴政策, 登录, and the system administrator's announcement."""
    from accounts.security import site_settings

    return render(request, "portal/home.html", {"site": site_settings()})


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
    roles = set(user.role_codes())  # type: ignore[union-attr]
    return render(
        request,
        "portal/workbench.html",
        {
            "todo": _todo_cards(roles),
            "cards": _link_cards(roles),
            "roles": roles,
            "calendar_warning": _calendar_warning(roles),
        },
    )


def _calendar_warning(roles: set[str]) -> str:
    """The system administrator is told, from 1 November, that next year's schedule is missing."""
    if Role.SYSADMIN not in roles:
        return ""
    from django.utils import timezone

    from policy.calendar import next_year_warning

    return next_year_warning(timezone.localdate())


def _todo_cards(roles: set[str]) -> list[dict[str, object]]:
    """Work waiting for this user's roles, with counts: one grouped query for the review queues."""
    from django.db.models import Count

    from applications.models import Application
    from audits.models import Finding
    from enterprises.models import Enterprise
    from review.views import QUEUES

    counts = dict(Application.objects.values_list("status").annotate(n=Count("id")).order_by())
    cards: list[dict[str, object]] = []
    for code, label, states, role in QUEUES:
        if role is not None and role in roles and states is not None:
            cards.append(
                {
                    "label": label,
                    "count": sum(counts.get(s, 0) for s in states),
                    "url": f"/review/?queue={code}",
                }
            )
    if Role.REVIEWER in roles:
        pending = Enterprise.objects.filter(status=Enterprise.Status.PENDING).count()
        cards.append({"label": _("待核验企业"), "count": pending, "url": "/enterprises/pending/"})
    if Role.APPROVER in roles:
        from review.models import RatingFollowUp

        open_follow_ups = RatingFollowUp.objects.filter(status=RatingFollowUp.Status.OPEN).count()
        cards.append({"label": _("待办差评回访"), "count": open_follow_ups, "url": "/review/follow-ups/"})
    if Role.INSPECTOR in roles:
        open_findings = Finding.objects.exclude(status__in=["upheld", "partial", "dismissed"]).count()
        cards.append({"label": _("未结核查发现"), "count": open_findings, "url": "/audits/"})
    return cards


def _link_cards(roles: set[str]) -> list[tuple[str, str]]:
    cards: list[tuple[str, str]] = []
    if Role.SYSADMIN in roles:
        cards += [
            (_("账号管理"), "console:accounts"),
            (_("创建账号"), "console:account_new"),
            (_("系统设置"), "console:settings"),
        ]
    if Role.SECADMIN in roles:
        cards += [
            (_("角色分配"), "console:accounts"),
            (_("安全策略"), "console:security"),
            (_("登录锁定"), "console:lockouts"),
        ]
    if Role.AUDITADMIN in roles:
        cards.append((_("审计日志"), "console:audit"))
    if roles & STAFF_ROLES:
        cards.append((_("审核工作台"), "review:workbench"))
    if Role.APPROVER in roles:
        cards.append((_("差评回访"), "review:follow_ups"))
    if Role.INSPECTOR in roles:
        cards.append((_("稽查工作台"), "audits:workbench"))
    if roles & {Role.INSPECTOR, Role.SYSADMIN}:
        cards.append((_("算力提供方"), "monitoring:providers"))
    if roles & {Role.INSPECTOR, Role.AUDITADMIN}:
        cards.append((_("不可篡改日志"), "ledger:index"))
    if roles & STAFF_ROLES:
        cards.append((_("统计报表"), "reports:dashboard"))
        cards.append((_("对公账户核验"), "review:payee_accounts"))
    if Role.FINANCE in roles:
        cards.append((_("支付申请"), "review:payment_instructions"))
    return cards


def favicon(request: HttpRequest) -> HttpResponse:
    """Clients that ask for /favicon.ico without reading the page get the platform's icon."""
    from django.templatetags.static import static

    return redirect(static("favicon.svg"), permanent=True)


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # Fails closed: a generic page with no detail of the error.
    return render(request, "500.html", status=500)
