"""The administration console of the three separated administrators (三权分立, 等保 level 3).

- 系统管理员 (sysadmin): creates and disables accounts, keeps the system settings;
- 安全管理员 (secadmin): assigns roles, sets the security policy, unlocks accounts;
- 审计管理员 (auditadmin): searches and exports the audit log, reviews the other two's actions.

Each page names the one role allowed to use it; every change goes through ``accounts.actions``.
Pages show accounts by user name, name, roles and state only: an applicant's phone, e-mail or
identity papers are nobody's duty here.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts import actions
from accounts.forms import (
    ASSIGNABLE_ROLES,
    AccountCreateForm,
    AuditSearchForm,
    RolesForm,
    SecurityPolicyForm,
    SiteSettingsForm,
)
from accounts.models import User, current_user
from accounts.queries import (
    AuditFilters,
    accounts_matching,
    actor_role_labels,
    audit_events,
    is_admin_actor,
    locked_usernames,
)
from accounts.roles import ADMIN_ROLES, EXTERNAL_ROLES, Role
from accounts.security import SecurityPolicy, SiteSettings, current_policy
from core.formats import datetime_text, money_text
from core.pagination import paginate
from ledger.labels import action_label, field_label, is_money_key, value_label
from ledger.models import AuditEvent

PAGE_SIZE = 50
EXPORT_LIMIT = 50_000


def _as(request: HttpRequest, *roles: str) -> User:
    """The signed-in user if they hold one of ``roles``; 403 otherwise."""
    user = current_user(request)
    if not user.has_role(*roles):
        raise PermissionDenied
    return user


def _errors(exc: ValidationError) -> list[str]:
    return [str(m) for m in exc.messages]


def _page(request: HttpRequest, items: Any) -> Any:
    return paginate(request, items, PAGE_SIZE)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = _as(request, *ADMIN_ROLES)
    return render(request, "accounts/console/home.html", {"roles": set(user.role_codes())})


# --- accounts (sysadmin creates and disables, secadmin gives roles) ---


def _account_kind(user: User) -> str:
    if user.enterprise_id is not None:
        return _("企业账号")
    if user.provider_id is not None:
        return _("算力提供方账号")
    return _("平台工作人员")


def _role_text(user: User) -> str:
    valid = set(Role.values)
    names = sorted(g.name for g in user.groups.all() if g.name in valid)
    return "、".join(str(Role(n).label) for n in names) or _("未分配角色")


@login_required
def accounts(request: HttpRequest) -> HttpResponse:
    user = _as(request, Role.SYSADMIN, Role.SECADMIN)
    q = request.GET.get("q", "")[:150]
    page = _page(request, accounts_matching(q))
    rows = [
        {"user": u, "kind": _account_kind(u), "roles": _role_text(u), "is_self": u.pk == user.pk}
        for u in page.object_list
    ]
    return render(
        request,
        "accounts/console/accounts.html",
        {"page": page, "rows": rows, "q": q, "roles": set(user.role_codes())},
    )


@login_required
@require_http_methods(["GET", "POST"])
def account_new(request: HttpRequest) -> HttpResponse:
    user = _as(request, Role.SYSADMIN)
    form = AccountCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created = actions.create_account(
                username=data["username"],
                password=data["password1"],
                display_name=data["display_name"],
                email=data["email"],
                actor=user,
                request=request,
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error("password1" if field == "password" else field, errors)
        else:
            messages.success(
                request,
                _("已创建账号“%(name)s”。请安全管理员为其分配角色。") % {"name": created.username},
            )
            return redirect("console:account", pk=created.pk)
    return render(request, "accounts/console/account_new.html", {"form": form})


@login_required
def account(request: HttpRequest, pk: int) -> HttpResponse:
    user = _as(request, Role.SYSADMIN, Role.SECADMIN)
    target = get_object_or_404(User.objects.prefetch_related("groups"), pk=pk)
    roles_form = RolesForm(initial={"roles": target.role_codes()})
    return render(
        request,
        "accounts/console/account.html",
        {
            "target": target,
            "kind": _account_kind(target),
            "role_text": _role_text(target),
            "roles_form": roles_form,
            "roles": set(user.role_codes()),
            "is_self": target.pk == user.pk,
            "external": bool(set(target.role_codes()) & EXTERNAL_ROLES),
        },
    )


@login_required
@require_POST
def account_active(request: HttpRequest, pk: int) -> HttpResponse:
    user = _as(request, Role.SYSADMIN)
    target = get_object_or_404(User, pk=pk)
    active = request.POST.get("active") == "1"
    try:
        actions.set_active(target, active, actor=user, request=request)
    except ValidationError as exc:
        for message in _errors(exc):
            messages.error(request, message)
    else:
        messages.success(
            request,
            (_("已启用账号“%(name)s”。") if active else _("已停用账号“%(name)s”，其登录已全部失效。"))
            % {"name": target.username},
        )
    return redirect("console:account", pk=target.pk)


@login_required
@require_POST
def account_roles(request: HttpRequest, pk: int) -> HttpResponse:
    user = _as(request, Role.SECADMIN)
    target = get_object_or_404(User, pk=pk)
    form = RolesForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("角色选择无效，请重新选择。"))
        return redirect("console:account", pk=target.pk)
    # Roles that come with an organisation stay; the console only hands out staff and admin roles.
    kept = [code for code in target.role_codes() if code not in {r.value for r in ASSIGNABLE_ROLES}]
    try:
        actions.assign_roles(target, [*kept, *form.cleaned_data["roles"]], actor=user, request=request)
    except ValidationError as exc:
        for message in _errors(exc):
            messages.error(request, message)
    else:
        messages.success(request, _("已更新“%(name)s”的角色。") % {"name": target.username})
    return redirect("console:account", pk=target.pk)


# --- settings (sysadmin) and security policy (secadmin) ---


@login_required
@require_http_methods(["GET", "POST"])
def site_settings(request: HttpRequest) -> HttpResponse:
    user = _as(request, Role.SYSADMIN)
    instance = SiteSettings.objects.filter(pk=1).first() or SiteSettings(pk=1)
    form = SiteSettingsForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        values = {name: form.cleaned_data[name] for name in form.Meta.fields}
        actions.update_site_settings(values, actor=user, request=request)
        messages.success(request, _("系统设置已保存。"))
        return redirect("console:settings")
    return render(request, "accounts/console/settings.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def security_policy(request: HttpRequest) -> HttpResponse:
    user = _as(request, Role.SECADMIN)
    instance = SecurityPolicy.objects.filter(pk=1).first() or SecurityPolicy(pk=1)
    form = SecurityPolicyForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        try:
            actions.update_security_policy(form.policy_values(), actor=user, request=request)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("安全策略已保存，立即生效。"))
            return redirect("console:security")
    from ledger.witnessing import console_rows

    return render(
        request,
        "accounts/console/security.html",
        {"form": form, "effective": current_policy(request), "witnessing": console_rows()},
    )


@login_required
@require_http_methods(["GET", "POST"])
def lockouts(request: HttpRequest) -> HttpResponse:
    user = _as(request, Role.SECADMIN)
    if request.method == "POST":
        username = request.POST.get("username", "").strip()[:150]
        if not username:
            messages.error(request, _("请填写要解除锁定的用户名。"))
        else:
            removed = actions.unlock_account(username, actor=user, request=request)
            if removed:
                messages.success(request, _("已解除“%(name)s”的登录锁定。") % {"name": username})
            else:
                messages.warning(request, _("“%(name)s”没有登录失败记录，无须解锁。") % {"name": username})
        return redirect("console:lockouts")
    limit = current_policy(request).lockout_failure_limit
    return render(
        request, "accounts/console/lockouts.html", {"rows": locked_usernames(limit), "limit": limit}
    )


# --- audit log (auditadmin) ---


def _filters(form: AuditSearchForm) -> AuditFilters:
    if not form.is_valid():
        return AuditFilters()
    d = form.cleaned_data
    return AuditFilters(
        person=d.get("person") or "",
        role=d.get("role") or "",
        action=d.get("action") or "",
        obj=d.get("obj") or "",
        date_from=d.get("date_from"),
        date_to=d.get("date_to"),
        admins_only=bool(d.get("admins_only")),
    )


FIELD_LABELS = {
    "roles": _("角色"),
    "active": _("启用"),
    "username": _("用户名"),
    "display_name": _("姓名"),
    "attempts_cleared": _("清除的失败记录"),
    "filters": _("检索条件"),
    "rows": _("条数"),
}


def _value_text(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if value is None:
        return _("默认")
    if key == "roles" and isinstance(value, list):
        valid = set(Role.values)
        return "、".join(str(Role(v).label) if v in valid else str(v) for v in value) or _("无")
    if isinstance(value, dict):
        return "；".join(
            f"{value_label(key, k) or _field_label(k)}：{_value_text(k, v)}" for k, v in value.items()
        )
    if isinstance(value, list):
        return "、".join(_value_text(key, v) for v in value) or _("无")
    named = value_label(key, value)
    if named is not None:
        return named
    if is_money_key(key) and isinstance(value, str | int):
        return money_text(value)
    # Dates and moments of the details are ISO text; people read them in the Chinese form.
    return datetime_text(value) if isinstance(value, str) else str(value)


def _field_label(key: str) -> str:
    from accounts.security import SecurityPolicy, SiteSettings

    if key in FIELD_LABELS:
        return str(FIELD_LABELS[key])
    for model in (SecurityPolicy, SiteSettings):
        try:
            return str(getattr(model._meta.get_field(key), "verbose_name", key))
        except Exception:  # noqa: BLE001, S112 - not a field of this model
            continue
    named = field_label(key)
    if named is not None:
        return named
    return {
        "person": _("操作人"),
        "role": _("角色"),
        "action": _("操作"),
        "object": _("对象"),
        "from": _("起始日期"),
        "to": _("截止日期"),
        "admins_only": _("只看管理员"),
    }.get(key, _("其他"))


def describe_change(event: AuditEvent) -> str:
    """The event's before/after in words: 角色：初审人员 → 初审人员、监管稽查."""
    before = event.before if isinstance(event.before, dict) else {}
    after = event.after if isinstance(event.after, dict) else {}
    parts = []
    for key in [*before, *(k for k in after if k not in before)]:
        label = _field_label(key)
        if key in before and key in after:
            parts.append(f"{label}：{_value_text(key, before[key])} → {_value_text(key, after[key])}")
        elif key in after:
            parts.append(f"{label}：{_value_text(key, after[key])}")
        else:
            parts.append(f"{label}：{_value_text(key, before[key])} → {_('无')}")
    return "；".join(parts)


def _event_row(event: AuditEvent) -> dict[str, Any]:
    actor = event.actor
    return {
        "event": event,
        "time": timezone.localtime(event.created_at),
        "actor": (str(actor) if actor is not None else event.actor_repr) or _("系统"),
        "actor_username": actor.username if actor is not None else event.actor_repr,
        "roles": actor_role_labels(event),
        "action": action_label(event.action),
        "object": event.object_repr,
        "result": event.get_result_display(),
        "change": describe_change(event),
        "admin": is_admin_actor(event),
    }


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    _as(request, Role.AUDITADMIN)
    form = AuditSearchForm(request.GET or None)
    filters = _filters(form)
    page = _page(request, audit_events(filters))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "accounts/console/audit.html",
        {
            "form": form,
            "page": page,
            "rows": [_event_row(e) for e in page.object_list],
            "query": query.urlencode(),
        },
    )


@login_required
def audit_export(request: HttpRequest) -> HttpResponse:
    from openpyxl import Workbook

    from core.xlsx import write_sheet, xlsx_response

    user = _as(request, Role.AUDITADMIN)
    form = AuditSearchForm(request.GET or None)
    filters = _filters(form)
    rows = [_event_row(e) for e in audit_events(filters)[:EXPORT_LIMIT]]
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = _("审计日志")
    headers = [
        _("序号"),
        _("时间"),
        _("操作人"),
        _("用户名"),
        _("角色"),
        _("操作"),
        _("对象"),
        _("结果"),
        _("IP地址"),
        _("变更内容"),
    ]
    count = write_sheet(
        sheet,
        headers,
        (
            [
                r["event"].pk,
                r["time"],
                r["actor"],
                r["actor_username"],
                r["roles"],
                r["action"],
                r["object"],
                r["result"],
                r["event"].ip or "",
                r["change"],
            ]
            for r in rows
        ),
        widths=[8, 20, 14, 14, 18, 18, 28, 8, 16, 60],
    )
    for (cell,) in sheet.iter_rows(min_row=2, min_col=2, max_col=2):
        cell.number_format = 'yyyy"年"m"月"d"日" hh:mm:ss'
    actions.record_audit_export(filters.as_dict(), count, actor=user, request=request)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return xlsx_response(workbook, f"audit-log-{stamp}.xlsx")
