"""State changes of enterprises: registration, verification, members."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.translation import gettext as _

from accounts.actions import create_user_with_role
from accounts.models import User
from accounts.roles import Role
from core import hooks
from core.notifications import queue_email
from core.transactions import durable
from core.uploads import CheckedUpload, stored_files
from enterprises.models import Delegation, Enterprise, LicenceVersion, Right
from enterprises.permissions import record_use, require_right
from ledger.actions import record_event
from ledger.models import AuditEvent

ENTERPRISE_FIELDS = (
    "name",
    "uscc",
    "registered_address",
    "operating_address",
    "legal_rep_name",
    "legal_rep_phone",
    "handler_name",
    "handler_phone",
    "handler_email",
)


def register_enterprise(
    data: dict[str, Any],
    license_file: CheckedUpload,
    *,
    username: str,
    password: str,
    request: Any = None,
    active: bool = True,
) -> tuple[Enterprise, User]:
    """Create a pending enterprise with its first applicant user and stored business licence.

    The enterprise cannot apply until a reviewer verifies it (docs/states.md, issue 2). The actor is
    the new user: registration is self-service. Self-service registration creates the user
    inactive, until the handler opens the confirmation link (:func:`submit_registration`).
    """
    with stored_files() as files, durable():
        enterprise = Enterprise.objects.create(
            **{field: data[field] for field in ENTERPRISE_FIELDS},
            license_sha256=license_file.sha256,
            license_mime=license_file.mime,
            license_name=license_file.original_name,
        )
        user = create_user_with_role(
            username,
            password,
            Role.APPLICANT,
            email=data["handler_email"],
            display_name=data["handler_name"],
            phone=data["handler_phone"],
            enterprise=enterprise,
            is_active=active,
        )
        saved = files.save("licenses", license_file)
        enterprise.license_file.name = saved
        # The registrant answers for the enterprise until staff verify otherwise (or the unified
        # identity provider names its legal representative).
        enterprise.legal_representative = user
        enterprise.save(update_fields=["license_file", "legal_representative"])
        LicenceVersion.objects.create(
            enterprise=enterprise,
            version=1,
            file=saved,
            sha256=license_file.sha256,
            mime=license_file.mime,
            original_name=license_file.original_name,
            signature=license_file.signature,
            uploaded_by=user,
            uploaded_at=timezone.now(),
        )
        record_event(
            "enterprise.register",
            actor=user,
            obj=enterprise,
            after={field: data[field] for field in ("name", "uscc")}
            | {"license_sha256": license_file.sha256},
            request=request,
        )
        if active:
            # A self-service registration is announced once its link is confirmed.
            hooks.announce(hooks.ENTERPRISE_REGISTERED, enterprise_id=enterprise.pk, actor=user)
    return enterprise, user


def _mail(subject: str, body: str, recipients: list[str]) -> None:
    addresses = sorted({address.strip() for address in recipients if address and address.strip()})
    queue_email(_("【影都算力补助平台】%(subject)s") % {"subject": subject}, body, addresses)


def submit_registration(
    data: dict[str, Any], license_file: CheckedUpload, *, username: str, password: str, request: Any = None
) -> None:
    """企业注册 without telling anyone whether a user name or a USCC already exists.

    Every registration ends the same way for the person registering: "check the handler's
    mailbox". A new one creates the pending enterprise with an inactive user and mails the
    handler a one-time confirmation link. One that collides with an existing user name or
    enterprise creates nothing; the handler's mailbox is told the registration could not be
    completed, and the existing owner (that user, or that enterprise's handler and users) is
    told someone tried, so an impostor is noticed. The attempt is audited either way.
    """
    taken_user = User.objects.filter(username__iexact=username).first()
    taken_enterprise = Enterprise.objects.filter(uscc=data["uscc"]).first()
    if taken_user is None and taken_enterprise is None:
        try:
            _enterprise, user = register_enterprise(
                data, license_file, username=username, password=password, request=request, active=False
            )
        except IntegrityError:
            # Someone registered the same name or USCC a moment ago: a collision like the others.
            taken_user = User.objects.filter(username__iexact=username).first()
            taken_enterprise = Enterprise.objects.filter(uscc=data["uscc"]).first()
        else:
            link = registration_link(user)
            transaction.on_commit(
                lambda: _mail(
                    str(_("请确认企业注册")),
                    str(
                        _(
                            "您好：\n\n您为“%(name)s”提交了企业注册，登录用户名为 %(username)s。"
                            "请在 %(days)d 天内打开以下链接完成注册（仅可使用一次）：\n%(link)s\n\n"
                            "如非本人操作，请忽略本邮件。"
                        )
                        % {
                            "name": data["name"],
                            "username": username,
                            "days": settings.PASSWORD_RESET_TIMEOUT // 86400,
                            "link": link,
                        }
                    ),
                    [data["handler_email"]],
                ),
                robust=True,
            )
            return
    with durable():
        record_event(
            "enterprise.register_refused",
            actor=None,
            actor_repr=username[:150] or "anonymous",
            obj=taken_enterprise,
            result=AuditEvent.Result.FAILURE,
            after={
                "uscc": data["uscc"],
                "username_taken": taken_user is not None,
                "uscc_taken": taken_enterprise is not None,
            },
            request=request,
        )
        owners: list[str] = []
        if taken_user is not None:
            owners.append(taken_user.email)
        if taken_enterprise is not None:
            owners.append(taken_enterprise.handler_email)
            owners.extend(taken_enterprise.users.filter(is_active=True).values_list("email", flat=True))
        transaction.on_commit(
            lambda: _mail(
                str(_("有人尝试使用您的账号信息注册")),
                str(
                    _(
                        "您好：\n\n有人在影都算力补助平台提交了企业注册（企业名称“%(name)s”），"
                        "使用了与您的登录用户名或贵企业统一社会信用代码相同的信息。注册未被受理。\n"
                        "如是贵企业同事，请登录平台在“本企业”页为其添加账号；如非贵企业人员操作，请联系区文促中心。"
                    )
                    % {"name": data["name"]}
                ),
                owners,
            ),
            robust=True,
        )
        transaction.on_commit(
            lambda: _mail(
                str(_("企业注册未能完成")),
                str(
                    _(
                        "您好：\n\n您为“%(name)s”提交的企业注册未能完成：所填登录用户名已被使用，"
                        "或该企业已在平台注册。请换一个用户名重新注册；如企业已注册，请联系本企业已注册的经办人为您添加账号。"
                    )
                    % {"name": data["name"]}
                ),
                [data["handler_email"]],
            ),
            robust=True,
        )


def registration_link(user: User) -> str:
    """The one-time confirmation link of a self-service registration (Django's token: it expires
    after PASSWORD_RESET_TIMEOUT and stops working once the user has logged in)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return settings.SITE_URL.rstrip("/") + reverse("enterprises:confirm", args=[uid, token])


def confirm_registration(uidb64: str, token: str, *, request: Any = None) -> User | None:
    """Activate the user of a registration link; ``None`` for a wrong, used or expired link."""
    try:
        pk = int(urlsafe_base64_decode(uidb64).decode())
    except (ValueError, UnicodeDecodeError):
        return None
    with durable():
        user = (
            User.objects.select_for_update().filter(pk=pk, is_active=False, last_login__isnull=True).first()
        )
        if user is None or not default_token_generator.check_token(user, token):
            return None
        user.is_active = True
        user.save(update_fields=["is_active"])
        record_event("enterprise.registration_confirmed", actor=user, obj=user.enterprise, request=request)
        if user.enterprise_id is not None:
            hooks.announce(hooks.ENTERPRISE_REGISTERED, enterprise_id=user.enterprise_id, actor=user)
    return user


def verify_enterprise(
    enterprise: Enterprise, *, decision: str, note: str, actor: User, request: Any = None
) -> Enterprise:
    """A reviewer verifies (or refuses) a registered enterprise against its business licence."""
    with durable():
        locked = Enterprise.objects.select_for_update().get(pk=enterprise.pk)
        before = locked.status
        locked.status = Enterprise.Status(decision)
        locked.review_note = note
        locked.verified_by = actor
        locked.verified_at = timezone.now()
        locked.save(update_fields=["status", "review_note", "verified_by", "verified_at"])
        # Verifying the enterprise is verifying it against the licence it registered with.
        licence_status = (
            LicenceVersion.Status.VERIFIED
            if locked.status == Enterprise.Status.VERIFIED
            else LicenceVersion.Status.REJECTED
        )
        LicenceVersion.objects.filter(enterprise=locked, status=LicenceVersion.Status.PENDING).update(
            status=licence_status, note=note, verified_by=actor, verified_at=locked.verified_at
        )
        record_event(
            "enterprise.verify",
            actor=actor,
            obj=locked,
            before={"status": before},
            after={"status": locked.status, "note": note},
            request=request,
        )
        if locked.status != Enterprise.Status.PENDING:
            hooks.announce(hooks.ENTERPRISE_VERIFIED, enterprise_id=locked.pk, actor=actor)
    return locked


def add_member(enterprise: Enterprise, data: dict[str, Any], *, actor: User, request: Any = None) -> User:
    """An enterprise user creates a colleague's applicant account in the same enterprise."""
    with durable():
        user = create_user_with_role(
            data["username"],
            data["password"],
            Role.APPLICANT,
            email=data["email"],
            display_name=data["display_name"],
            phone=data["phone"],
            enterprise=enterprise,
        )
        record_event(
            "enterprise.add_member",
            actor=actor,
            obj=enterprise,
            after={"username": user.username},
            request=request,
        )
    return user


def upload_licence(
    enterprise: Enterprise, checked: CheckedUpload, *, actor: User, request: Any = None
) -> LicenceVersion:
    """A changed business licence: a new version, pending until staff verify it.

    Applications keep using the last verified version meanwhile, and submitted applications keep
    the version they were submitted with.
    """
    delegation = require_right(actor, enterprise.pk, Right.PREPARE, obj=enterprise, request=request)
    with stored_files() as files, durable():
        locked = Enterprise.objects.select_for_update().get(pk=enterprise.pk)
        top = locked.licences.order_by("-version").values_list("version", flat=True).first() or 0
        licence = LicenceVersion.objects.create(
            enterprise=locked,
            version=top + 1,
            file=files.save("licenses", checked),
            sha256=checked.sha256,
            mime=checked.mime,
            original_name=checked.original_name,
            signature=checked.signature,
            uploaded_by=actor,
            uploaded_at=timezone.now(),
        )
        record_use(delegation, Right.PREPARE, actor=actor, obj=locked, request=request)
        record_event(
            "enterprise.licence_upload",
            actor=actor,
            obj=locked,
            after={"version": licence.version, "sha256": licence.sha256, "name": licence.original_name},
            request=request,
        )
    return licence


def verify_licence(
    licence: LicenceVersion, *, decision: str, note: str, actor: User, request: Any = None
) -> LicenceVersion:
    """A reviewer verifies (or refuses) a new licence version; refused versions are never used."""
    with durable():
        locked = LicenceVersion.objects.select_for_update().get(pk=licence.pk)
        if locked.status != LicenceVersion.Status.PENDING:
            raise ValidationError(_("该营业执照版本已核验，不能重复核验"))
        before = locked.status
        locked.status = LicenceVersion.Status(decision)
        locked.note = note
        locked.verified_by = actor
        locked.verified_at = timezone.now()
        locked.save(update_fields=["status", "note", "verified_by", "verified_at"])
        record_event(
            "enterprise.licence_verify",
            actor=actor,
            obj=locked.enterprise,
            before={"version": locked.version, "status": before},
            after={"version": locked.version, "status": locked.status, "note": note},
            request=request,
        )
    return locked


def set_legal_representative(
    enterprise: Enterprise, user: User, *, actor: User | None, source: str, request: Any = None
) -> Enterprise:
    """Record which account is the enterprise's legal representative (法定代表人).

    ``source`` says how it is known: ``identity_provider`` (the unified identity platform's
    claim) or ``staff`` (verified by the center).
    """
    if user.enterprise_id != enterprise.pk:
        raise ValidationError(_("该用户不属于本企业"))
    with durable():
        locked = Enterprise.objects.select_for_update().get(pk=enterprise.pk)
        before = locked.legal_representative_id
        if before == user.pk:
            return locked
        locked.legal_representative = user
        locked.save(update_fields=["legal_representative"])
        record_event(
            "enterprise.legal_representative",
            actor=actor,
            obj=locked,
            before={"user_id": before},
            after={"user_id": user.pk, "username": user.username, "source": source},
            request=request,
        )
    return locked


def grant_delegation(
    enterprise: Enterprise,
    handler: User,
    *,
    rights: Iterable[str],
    expires_on: dt.date,
    actor: User,
    request: Any = None,
) -> Delegation:
    """The legal representative grants a handler rights until ``expires_on`` (inclusive).

    A new grant to the same handler replaces (revokes) the one in force.
    """
    codes = sorted({Right(code).value for code in rights})
    if enterprise.legal_representative_id != actor.pk:
        raise PermissionDenied(_("只有本企业的法定代表人可以授权经办人"))
    if handler.enterprise_id != enterprise.pk or handler.pk == actor.pk:
        raise ValidationError({"handler": [_("请选择本企业的其他用户作为经办人")]})
    if not codes:
        raise ValidationError({"rights": [_("请至少选择一项授权事项")]})
    if expires_on < timezone.localdate():
        raise ValidationError({"expires_on": [_("授权有效期不能早于今天")]})
    with durable():
        now = timezone.now()
        replaced = list(
            Delegation.objects.select_for_update()
            .filter(enterprise=enterprise, handler=handler, revoked_at__isnull=True)
            .values_list("pk", flat=True)
        )
        Delegation.objects.filter(pk__in=replaced).update(revoked_at=now, revoked_by=actor)
        delegation = Delegation.objects.create(
            enterprise=enterprise,
            handler=handler,
            rights=codes,
            expires_on=expires_on,
            granted_by=actor,
            granted_at=now,
        )
        record_event(
            "enterprise.delegation_grant",
            actor=actor,
            obj=delegation,
            after={
                "handler": handler.username,
                "rights": codes,
                "expires_on": expires_on.isoformat(),
                "replaced": replaced,
            },
            request=request,
        )
    return delegation


def revoke_delegation(delegation: Delegation, *, actor: User, request: Any = None) -> Delegation:
    """The legal representative revokes a delegation; the handler's next action is refused."""
    if delegation.enterprise.legal_representative_id != actor.pk:
        raise PermissionDenied(_("只有本企业的法定代表人可以撤销授权"))
    with durable():
        locked = Delegation.objects.select_for_update().get(pk=delegation.pk)
        if locked.revoked_at is not None:
            return locked
        locked.revoked_at = timezone.now()
        locked.revoked_by = actor
        locked.save(update_fields=["revoked_at", "revoked_by"])
        record_event(
            "enterprise.delegation_revoke",
            actor=actor,
            obj=locked,
            before={"rights": locked.rights, "expires_on": locked.expires_on.isoformat()},
            after={"handler": locked.handler.username},
            request=request,
        )
    return locked
