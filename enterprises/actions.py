"""State changes of enterprises: registration, verification, members."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.actions import create_user_with_role
from accounts.models import User
from accounts.roles import Role
from enterprises.models import Enterprise
from ledger.actions import record_event
from yingdu import hooks
from yingdu.uploads import CheckedUpload, stored_files

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
    data: dict[str, Any], license_file: CheckedUpload, *, username: str, password: str, request: Any = None
) -> tuple[Enterprise, User]:
    """Create a pending enterprise with its first applicant user and stored business licence.

    The enterprise cannot apply until a reviewer verifies it (SPEC §1, issue 2). The actor is
    the new user: registration is self-service.
    """
    with stored_files() as files, transaction.atomic():
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
        )
        enterprise.license_file.name = files.save("licenses", license_file)
        enterprise.save(update_fields=["license_file"])
        record_event(
            "enterprise.register",
            actor=user,
            obj=enterprise,
            after={field: data[field] for field in ("name", "uscc")}
            | {"license_sha256": license_file.sha256},
            request=request,
        )
        hooks.announce(hooks.ENTERPRISE_REGISTERED, enterprise_id=enterprise.pk, actor=user)
    return enterprise, user


def verify_enterprise(
    enterprise: Enterprise, *, decision: str, note: str, actor: User, request: Any = None
) -> Enterprise:
    """A reviewer verifies (or refuses) a registered enterprise against its business licence."""
    with transaction.atomic():
        locked = Enterprise.objects.select_for_update().get(pk=enterprise.pk)
        before = locked.status
        locked.status = Enterprise.Status(decision)
        locked.review_note = note
        locked.verified_by = actor
        locked.verified_at = timezone.now()
        locked.save(update_fields=["status", "review_note", "verified_by", "verified_at"])
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
    with transaction.atomic():
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
