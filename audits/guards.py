"""What every audit action checks first: the actor's role and the length of a text; the refusal
type; the policy in force for an application."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from applications.models import Application
from core.refusals import NON_FIELD, Refused
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


def require(actor: User, *roles: str) -> None:
    if actor is None or not actor.is_authenticated or not actor.has_role(*roles):
        raise PermissionDenied


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
