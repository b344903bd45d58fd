"""What every audit action checks first: the actor's role and the length of a text; the refusal
type; the policy in force for an application."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import Role
from applications.models import Application
from core.refusals import NON_FIELD, Refused
from ledger.actions import record_event
from ledger.models import AuditEvent
from policy.loader import PolicyParams, params_at

MAX_TEXT = 5000
MAX_EVIDENCE_FILES = 10


class AuditRefused(Refused, ValidationError):  # type: ignore[misc]  # ``message`` is a str on both
    """An audit action refused, with a Chinese message (and the field it concerns, if any)."""

    status = 400
    code = "invalid"

    def __init__(self, message: Any, code: str | None = None) -> None:
        ValidationError.__init__(self, message, code=code)
        problems = self.message_dict if hasattr(self, "error_dict") else {NON_FIELD: self.messages}
        self._refuse(problems, status=None, code=code)


def require(
    actor: User | None,
    *roles: str,
    action: str,
    obj: models.Model | None = None,
    request: HttpRequest | None = None,
) -> None:
    """Refuse (403) an actor who holds none of ``roles``. The refused attempt is audited as a failed
    ``action`` on ``obj``, in its own transaction, as review audits its refusals (docs/security.md):
    the action itself has not begun, so nothing rolls the record back."""
    if actor is not None and actor.is_authenticated and actor.has_role(*roles):
        return
    message = _("您没有“%(roles)s”角色，不能办理此事项") % {
        "roles": "、".join(str(Role(r).label) for r in roles)
    }
    record_event(
        action,
        actor=actor if actor is not None and actor.is_authenticated else None,
        obj=obj,
        after={"error": message, "http_status": 403},
        result=AuditEvent.Result.FAILURE,
        request=request,
    )
    raise PermissionDenied(message)


def required_text(value: str, *, required: str, field: str) -> str:
    text = (value or "").strip()
    if not text:
        raise AuditRefused({field: [required]})
    if len(text) > MAX_TEXT:
        raise AuditRefused({field: [_("不超过 %(n)d 字") % {"n": MAX_TEXT}]})
    return text


def local(value: dt.datetime | None) -> dt.date | None:
    return timezone.localdate(value) if value is not None else None


def params_for(application: Application) -> PolicyParams:
    """The policy in force on the submission date governs the application (docs/subsidy.md)."""
    return params_at(local(application.submitted_at) or timezone.localdate())
