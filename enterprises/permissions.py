"""Who may act for an enterprise: the legal representative, or a handler within a delegation.

This is the one helper every applicant-side action asks (applications, review, audits): the
legal representative (法定代表人) holds every right; a handler (经办人) holds the rights of
their latest delegation while it is neither expired (Asia/Shanghai date) nor revoked. A
refusal names its reason — no grant, the right not granted, expired on a day, revoked on a
day — so the handler knows whom to ask.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from core.formats import date_text
from enterprises.models import Delegation, Enterprise, Right
from ledger.actions import record_event
from ledger.models import AuditEvent


class RightRefused(PermissionDenied):
    """The actor may not use ``right`` for the enterprise; ``message`` is Chinese and names why."""

    def __init__(self, message: str, *, right: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.right = right
        self.reason = reason


def is_legal_representative(user: Any, enterprise: Enterprise | int) -> bool:
    enterprise_id = enterprise.pk if isinstance(enterprise, Enterprise) else enterprise
    if getattr(user, "pk", None) is None:
        return False
    return Enterprise.objects.filter(pk=enterprise_id, legal_representative_id=user.pk).exists()


def latest_delegation(user: Any, enterprise_id: int) -> Delegation | None:
    return (
        Delegation.objects.filter(enterprise_id=enterprise_id, handler_id=user.pk)
        .order_by("-granted_at", "-id")
        .first()
    )


def active_delegation(user: Any, enterprise_id: int, today: dt.date | None = None) -> Delegation | None:
    day = today or timezone.localdate()
    delegation = latest_delegation(user, enterprise_id)
    if delegation is None or delegation.revoked_at is not None or delegation.expires_on < day:
        return None
    return delegation


def _refusal(
    user: Any, enterprise_id: int, right: str, today: dt.date | None
) -> tuple[str, str, Delegation | None] | None:
    label = Right(right).label
    if getattr(user, "enterprise_id", None) != enterprise_id:
        return _("只有申报企业的用户可以“%(right)s”") % {"right": label}, "not_member", None
    if is_legal_representative(user, enterprise_id):
        return None
    day = today or timezone.localdate()
    delegation = latest_delegation(user, enterprise_id)
    if delegation is None:
        return (
            _("法定代表人尚未授权您“%(right)s”，请联系本企业法定代表人授权") % {"right": label},
            "no_delegation",
            None,
        )
    if delegation.revoked_at is not None:
        revoked = date_text(timezone.localdate(delegation.revoked_at))
        return (
            _("您的经办授权已于 %(date)s 被法定代表人撤销，不能“%(right)s”")
            % {"date": revoked, "right": label},
            "revoked",
            delegation,
        )
    if delegation.expires_on < day:
        return (
            _("您的经办授权已于 %(date)s 到期，不能“%(right)s”，请联系法定代表人续期")
            % {"date": date_text(delegation.expires_on), "right": label},
            "expired",
            delegation,
        )
    if right not in delegation.rights:
        return (
            _("法定代表人未授予您“%(right)s”的权限") % {"right": label},
            "not_granted",
            delegation,
        )
    return None


def right_refusal(user: Any, enterprise_id: int, right: str, *, today: dt.date | None = None) -> str | None:
    """Why ``user`` may not use ``right`` for the enterprise today; ``None`` when they may."""
    found = _refusal(user, enterprise_id, right, today)
    return found[0] if found is not None else None


def has_right(user: Any, enterprise_id: int, right: str) -> bool:
    return right_refusal(user, enterprise_id, right) is None


def require_right(
    user: Any,
    enterprise_id: int,
    right: str,
    *,
    obj: models.Model | None = None,
    request: HttpRequest | None = None,
) -> Delegation | None:
    """Check ``right`` before an action; a refusal is audited and raised as :class:`RightRefused`.

    Returns the delegation the handler acts under (``None`` for the legal representative), for
    :func:`record_use` inside the action's transaction.
    """
    found = _refusal(user, enterprise_id, right, None)
    if found is not None:
        message, reason, delegation = found
        record_event(
            "enterprise.delegation_refused",
            actor=user,
            obj=obj,
            after={
                "right": right,
                "reason": reason,
                "error": message,
                "delegation_id": getattr(delegation, "pk", None),
            },
            result=AuditEvent.Result.FAILURE,
            enterprise_id=enterprise_id,
            request=request,
        )
        raise RightRefused(message, right=right, reason=reason)
    return (
        active_delegation(user, enterprise_id) if not is_legal_representative(user, enterprise_id) else None
    )


def record_use(
    delegation: Delegation | None,
    right: str,
    *,
    actor: User | None,
    obj: models.Model | None = None,
    request: HttpRequest | None = None,
) -> None:
    """Audit a handler's use of a delegated right, in the caller's transaction (nothing for the
    legal representative, whose own actions are audited as such)."""
    if delegation is None:
        return
    record_event(
        "enterprise.delegation_use",
        actor=actor,
        obj=obj,
        after={
            "right": right,
            "delegation_id": delegation.pk,
            "granted_by": delegation.granted_by_id,
            "expires_on": delegation.expires_on.isoformat(),
        },
        enterprise_id=delegation.enterprise_id,
        request=request,
    )
