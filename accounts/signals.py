"""Audit events for authentication. Django and axes report these through signals only."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from ledger.actions import record_event
from ledger.models import AuditEvent


@receiver(user_logged_in)
def audit_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    record_event("auth.login", actor=user, obj=user, request=request)


@receiver(user_logged_out)
def audit_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        record_event("auth.logout", actor=user, obj=user, request=request)


@receiver(user_login_failed)
def audit_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    username = str(credentials.get("username", ""))[:150]
    user = get_user_model().objects.filter(username=username).first()
    record_event(
        "auth.login_failed",
        actor=None,
        actor_repr=username or "anonymous",
        obj=user,
        result=AuditEvent.Result.FAILURE,
        request=request,
    )


@receiver(user_locked_out)
def audit_locked_out(
    sender: Any,
    request: Any = None,
    username: str | None = None,
    ip_address: str | None = None,
    **kwargs: Any,
) -> None:
    user = get_user_model().objects.filter(username=username or "").first()
    record_event(
        "auth.locked_out",
        actor=None,
        actor_repr=(username or "anonymous")[:150],
        obj=user,
        result=AuditEvent.Result.FAILURE,
        request=request,
        ip=ip_address,
    )
