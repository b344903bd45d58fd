"""State changes of accounts: creating users, assigning roles, disabling, unlocking, policies.

The administration console (``accounts.console``) calls these and nothing else: the system
administrator creates and disables accounts and keeps the system settings, the security
administrator assigns roles, sets the security policy and unlocks accounts (三权分立). Each
change is one transaction with its audit event.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from accounts.models import MfaEnrolment, User
from accounts.roles import Role, duty_conflicts, role_conflicts
from accounts.security import SecurityPolicy, SiteSettings
from core.transactions import durable
from ledger.actions import record_event
from ledger.models import AuditEvent


def create_user_with_role(username: str, password: str, role: str, **fields: Any) -> User:
    """A new user holding one external role (applicant or provider), in the caller's transaction."""
    user = User.objects.create_user(username=username, password=password, **fields)
    user.groups.add(Group.objects.get_or_create(name=Role(role).value)[0])
    return user


def _refuse_self(user: User, actor: User | None, message: str) -> None:
    # An administrator never changes their own privileges or switches themselves off.
    if actor is not None and actor.pk == user.pk:
        raise ValidationError(message)


def assign_roles(user: User, roles: Iterable[str], *, actor: User | None, request: Any = None) -> User:
    """Replace the user's roles, enforcing 三权分立 (docs/security.md), and audit the change."""
    codes = sorted({Role(code).value for code in roles})
    try:
        _refuse_self(user, actor, str(_("不能修改自己的角色，请由另一名安全管理员办理。")))
    except ValidationError as exc:
        _record_refused_roles(user, codes, exc.messages, actor=actor, request=request)
        raise
    errors = role_conflicts(codes) + duty_conflicts(codes)
    if errors:
        _record_refused_roles(user, codes, errors, actor=actor, request=request)
        raise ValidationError({"roles": errors})
    with durable():
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


def _record_refused_roles(
    user: User, codes: list[str], errors: list[str], *, actor: User | None, request: Any
) -> None:
    """A refused privileged change is an audit event too (等保: failures are audited)."""
    with durable():
        record_event(
            "accounts.roles_changed",
            actor=actor,
            obj=user,
            before={"roles": sorted(user.role_codes())},
            after={"roles": codes, "error": "；".join(errors)},
            result=AuditEvent.Result.FAILURE,
            request=request,
        )


def _record_refused(
    action: str,
    obj: User | None,
    after: dict[str, Any],
    exc: ValidationError,
    *,
    actor: User | None,
    request: Any,
) -> None:
    """A refused privileged change is an audit event with result 失败 and the reasons given."""
    with durable():
        record_event(
            action,
            actor=actor,
            obj=obj,
            after={**after, "error": "；".join(exc.messages)},
            result=AuditEvent.Result.FAILURE,
            request=request,
        )


def set_active(user: User, active: bool, *, actor: User | None, request: Any = None) -> User:
    """Enable or disable an account; disabling also ends every session of that user."""
    from django.contrib.sessions.models import Session

    if not active:
        try:
            _refuse_self(user, actor, str(_("不能停用自己的账号。")))
        except ValidationError as exc:
            with durable():
                record_event(
                    "accounts.active_changed",
                    actor=actor,
                    obj=user,
                    before={"active": user.is_active},
                    after={"active": active, "error": "；".join(exc.messages)},
                    result=AuditEvent.Result.FAILURE,
                    request=request,
                )
            raise
    with durable():
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
    actor: User | None,
    display_name: str = "",
    email: str = "",
    phone: str = "",
    request: Any = None,
) -> User:
    """A staff account with no role yet: the system administrator creates it, the security
    administrator then gives it its roles. The initial password must be changed at first login."""
    from django.contrib.auth.password_validation import validate_password

    user = User(username=username, display_name=display_name, email=email, phone=phone)
    try:
        if User.objects.filter(username__iexact=username).exists():
            raise ValidationError({"username": [_("用户名“%(name)s”已被使用。") % {"name": username}]})
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from exc
    except ValidationError as exc:
        _record_refused("accounts.create", None, {"username": username}, exc, actor=actor, request=request)
        raise
    with durable():
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


def unlock_account(username: str, *, actor: User | None, request: Any = None) -> int:
    """End a login lockout (django-axes) for a user name; returns how many attempt records went."""
    from axes.utils import reset

    with durable():
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
    actor: User | None,
    request: Any,
) -> Any:
    with durable():
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


def update_security_policy(
    values: dict[str, Any], *, actor: User | None, request: Any = None
) -> SecurityPolicy:
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


def update_site_settings(values: dict[str, Any], *, actor: User | None, request: Any = None) -> SiteSettings:
    """The system administrator's settings: the portal's announcement and service contacts."""
    row: SiteSettings = _update_singleton(
        SiteSettings, SITE_SETTINGS_FIELDS, values, "system.settings", actor=actor, request=request
    )
    return row


def record_audit_export(
    filters: dict[str, str], rows: int, *, actor: User | None, request: Any = None
) -> None:
    """An export of the audit log is itself an audit event (who took which part of the log)."""
    with durable():
        record_event(
            "audit.log_export", actor=actor, after={"filters": filters, "rows": rows}, request=request
        )


# --- second factor: enrolment through a one-time link ---------------------------------------------


def _token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def mfa_enrolment_path(token: str) -> str:
    from django.urls import reverse

    return reverse("accounts:otp_enrol", args=[token])


def issue_mfa_enrolment(user: User, *, actor: User | None, request: Any = None) -> str:
    """Issue a one-time link for ``user`` to bind a TOTP authenticator; return its token.

    Only a security administrator issues links, never for their own account (another one
    does, or the operator's ``yingdu mfa_enrolment`` command, ``actor=None``). Older unused
    links of the user are revoked. The token is shown once; only its digest is kept.
    """
    from django.conf import settings
    from django.utils import timezone

    from accounts.middleware import needs_mfa

    try:
        if actor is not None:
            if not actor.has_role(Role.SECADMIN):
                raise ValidationError(_("只有安全管理员可以签发动态口令绑定链接"))
            if actor.pk == user.pk:
                raise ValidationError(_("不能为自己签发绑定链接，请由另一名安全管理员办理"))
        if not needs_mfa(user):
            raise ValidationError(
                _("账号“%(name)s”不是工作人员或管理员，无需绑定动态口令") % {"name": user.username}
            )
        if not user.is_active:
            raise ValidationError(_("账号“%(name)s”已停用") % {"name": user.username})
    except ValidationError as exc:
        _record_refused("auth.mfa_enrolment_issued", user, {}, exc, actor=actor, request=request)
        raise
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with durable():
        revoked = MfaEnrolment.objects.filter(
            user=user, used_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=now)
        enrolment = MfaEnrolment.objects.create(
            user=user,
            token_sha256=_token_sha256(token),
            issued_by=actor,
            created_at=now,
            expires_at=now + dt.timedelta(hours=settings.MFA_ENROLMENT_HOURS),
        )
        record_event(
            "auth.mfa_enrolment_issued",
            actor=actor,
            obj=user,
            after={
                "enrolment_id": enrolment.pk,
                "expires_at": enrolment.expires_at.isoformat(),
                "revoked": revoked,
            },
            request=request,
        )
    return token


def usable_mfa_enrolment(token: str, user: User) -> MfaEnrolment | None:
    """The enrolment of a link if it belongs to ``user`` and is unused, unrevoked and unexpired."""
    from django.utils import timezone

    enrolment = MfaEnrolment.objects.filter(token_sha256=_token_sha256(token), user=user).first()
    if enrolment is None or not enrolment.usable(timezone.now()):
        return None
    return enrolment


def complete_mfa_enrolment(
    enrolment: MfaEnrolment, device: Any, code: str, *, actor: User, request: Any = None
) -> bool:
    """Bind ``device`` when ``code`` is right and the link still unused: the device replaces any
    earlier one of the user (a lost phone), and the link is used up. ``False`` for a wrong code."""
    from django.utils import timezone
    from django_otp.plugins.otp_totp.models import TOTPDevice

    with durable():
        locked = MfaEnrolment.objects.select_for_update().get(pk=enrolment.pk)
        if locked.user_id != actor.pk or not locked.usable(timezone.now()):
            return False
        if not (code.isdigit() and device.verify_token(code)):
            record_event(
                "auth.mfa_failed", actor=actor, obj=actor, request=request, result=AuditEvent.Result.FAILURE
            )
            return False
        TOTPDevice.objects.filter(user=actor).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        locked.used_at = timezone.now()
        locked.save(update_fields=["used_at"])
        record_event(
            "auth.mfa_enrolled",
            actor=actor,
            obj=actor,
            after={"enrolment_id": locked.pk, "issued_by": str(locked.issued_by or "system")},
            request=request,
        )
    return True


def update_notification_settings(
    user: User, *, phone: str, sms_opt_out: bool, actor: User | None, request: Any = None
) -> User:
    """The user's own mobile number and text-message opt-out, with its audit event."""
    with durable():
        locked = User.objects.select_for_update().get(pk=user.pk)
        before = {"phone": locked.phone, "sms_opt_out": locked.sms_opt_out}
        locked.phone, locked.sms_opt_out = phone.strip(), sms_opt_out
        locked.save(update_fields=["phone", "sms_opt_out"])
        after = {"phone": locked.phone, "sms_opt_out": locked.sms_opt_out}
        changed = [k for k in before if before[k] != after[k]]
        record_event(
            "accounts.notification_settings",
            actor=actor,
            obj=locked,
            before={k: before[k] for k in changed},
            after={k: after[k] for k in changed},
            request=request,
        )
    user.phone, user.sms_opt_out = locked.phone, locked.sms_opt_out
    return locked
