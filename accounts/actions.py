"""State changes of accounts: creating users, assigning roles, disabling, unlocking, policies.

The administration console (``accounts.console``) calls these and nothing else: the system
administrator creates and disables accounts and keeps the system settings, the security
administrator assigns roles, sets the security policy and unlocks accounts (三权分立). Each
change is one transaction with its audit event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import Role, role_conflicts
from accounts.security import SecurityPolicy, SiteSettings
from ledger.actions import record_event


def create_user_with_role(username: str, password: str, role: str, **fields: Any) -> User:
    """A new user holding one external role (applicant or provider), in the caller's transaction."""
    user = User.objects.create_user(username=username, password=password, **fields)
    user.groups.add(Group.objects.get_or_create(name=Role(role).value)[0])
    return user


def _refuse_self(user: User, actor: Any, message: str) -> None:
    # An administrator never changes their own privileges or switches themselves off.
    if getattr(actor, "pk", None) is not None and actor.pk == user.pk:
        raise ValidationError(message)


def assign_roles(user: User, roles: Iterable[str], *, actor: Any, request: Any = None) -> User:
    """Replace the user's roles, enforcing 三权分立 (SECURITY.md #8), and audit the change."""
    codes = sorted({Role(code).value for code in roles})
    _refuse_self(user, actor, str(_("不能修改自己的角色，请由另一名安全管理员办理。")))
    errors = role_conflicts(codes)
    if errors:
        raise ValidationError({"roles": errors})
    with transaction.atomic():
        before = sorted(user.role_codes())
        groups = [Group.objects.get_or_create(name=code)[0] for code in codes]
        user.groups.clear()
        user.groups.add(*groups)
        user._role_codes = None
        record_event(
            "accounts.roles_changed",
            actor=actor,
            obj=user,
            before={"roles": before},
            after={"roles": codes},
            request=request,
        )
    return user


def set_active(user: User, active: bool, *, actor: Any, request: Any = None) -> User:
    """Enable or disable an account; disabling also ends every session of that user."""
    from django.contrib.sessions.models import Session

    if not active:
        _refuse_self(user, actor, str(_("不能停用自己的账号。")))
    with transaction.atomic():
        before = user.is_active
        user.is_active = active
        user.save(update_fields=["is_active"])
        if not active:
            for session in Session.objects.all().iterator():
                if session.get_decoded().get("_auth_user_id") == str(user.pk):
                    session.delete()
        record_event(
            "accounts.active_changed",
            actor=actor,
            obj=user,
            before={"active": before},
            after={"active": active},
            request=request,
        )
    return user


# Set as the password's age on an account created by an administrator: the expiry check
# sends its holder to change the initial password at the first login.
INITIAL_PASSWORD_CHANGED_AT = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def create_account(
    *,
    username: str,
    password: str,
    actor: Any,
    display_name: str = "",
    email: str = "",
    phone: str = "",
    request: Any = None,
) -> User:
    """A staff account with no role yet: the system administrator creates it, the security
    administrator then gives it its roles. The initial password must be changed at first login."""
    from django.contrib.auth.password_validation import validate_password

    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": [_("用户名“%(name)s”已被使用。") % {"name": username}]})
    user = User(username=username, display_name=display_name, email=email, phone=phone)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    with transaction.atomic():
        user.set_password(password)
        user.password_changed_at = INITIAL_PASSWORD_CHANGED_AT
        user.save()
        record_event(
            "accounts.create",
            actor=actor,
            obj=user,
            after={"username": username, "display_name": display_name},
            request=request,
        )
    return user


def unlock_account(username: str, *, actor: Any, request: Any = None) -> int:
    """End a login lockout (django-axes) for a user name; returns how many attempt records went."""
    from axes.utils import reset

    with transaction.atomic():
        removed: int = reset(username=username)
        user = User.objects.filter(username=username).first()
        record_event(
            "accounts.unlock",
            actor=actor,
            obj=user,
            after={"username": username, "attempts_cleared": removed},
            request=request,
        )
    return removed


SECURITY_POLICY_FIELDS = (
    "password_min_length",
    "password_min_classes",
    "password_max_age_days",
    "lockout_failure_limit",
    "lockout_cooloff_minutes",
    "session_idle_minutes",
    "staff_mfa_required",
)
SITE_SETTINGS_FIELDS = ("announcement", "service_phone", "service_email", "service_hours")


def _update_singleton(
    model: type[SecurityPolicy] | type[SiteSettings],
    names: tuple[str, ...],
    values: dict[str, Any],
    action: str,
    *,
    actor: Any,
    request: Any,
) -> Any:
    with transaction.atomic():
        row = model.objects.select_for_update().filter(pk=1).first() or model(pk=1)
        before = {name: getattr(row, name) for name in names}
        for name in names:
            if name in values:
                setattr(row, name, values[name])
        row.full_clean()
        row.save()
        after = {name: getattr(row, name) for name in names}
        changed = [name for name in names if before[name] != after[name]]
        record_event(
            action,
            actor=actor,
            obj=row,
            before={k: before[k] for k in changed},
            after={k: after[k] for k in changed},
            request=request,
        )
    return row


def update_security_policy(values: dict[str, Any], *, actor: Any, request: Any = None) -> SecurityPolicy:
    """The security administrator's password, lockout, session and second-factor rules.

    An empty value (``None``) returns that rule to the deployment default."""
    row: SecurityPolicy = _update_singleton(
        SecurityPolicy,
        SECURITY_POLICY_FIELDS,
        values,
        "accounts.security_policy",
        actor=actor,
        request=request,
    )
    return row


def update_site_settings(values: dict[str, Any], *, actor: Any, request: Any = None) -> SiteSettings:
    """The system administrator's settings: the portal's announcement and service contacts."""
    row: SiteSettings = _update_singleton(
        SiteSettings, SITE_SETTINGS_FIELDS, values, "system.settings", actor=actor, request=request
    )
    return row


def record_audit_export(filters: dict[str, str], rows: int, *, actor: Any, request: Any = None) -> None:
    """An export of the audit log is itself an audit event (who took which part of the log)."""
    with transaction.atomic():
        record_event(
            "audit.log_export", actor=actor, after={"filters": filters, "rows": rows}, request=request
        )
