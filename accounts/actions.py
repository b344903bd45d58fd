"""State changes of accounts: creating users, assigning roles, disabling."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User
from accounts.roles import Role, role_conflicts
from ledger.actions import record_event


def create_user_with_role(username: str, password: str, role: str, **fields: Any) -> User:
    """A new user holding one external role (applicant or provider), in the caller's transaction."""
    user = User.objects.create_user(username=username, password=password, **fields)
    user.groups.add(Group.objects.get_or_create(name=Role(role).value)[0])
    return user


def assign_roles(user: User, roles: Iterable[str], *, actor: Any, request: Any = None) -> User:
    """Replace the user's roles, enforcing 三权分立 (SECURITY.md #8), and audit the change."""
    codes = sorted({Role(code).value for code in roles})
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
