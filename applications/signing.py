"""Who really signed row 26 (docs/offers.md#who-signed): the logged-in legal representative, or a
handler holding the signing right granted by the legal representative until a date. The 申请表 prints
exactly that; a handler is never labelled as the legal representative."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

from applications.models import Application
from core.lib.dates import chinese_date
from enterprises.models import Delegation, Right


@dataclass(frozen=True)
class Signature:
    """The confirmation of row 26 as it happened: who, in which capacity, under whose grant."""

    name: str
    legal_representative: bool
    granted_by: str = ""
    granted_until: dt.date | None = None

    def text(self) -> str:
        if self.legal_representative:
            return _("法定代表人 %(name)s") % {"name": self.name}
        return _("经办人 %(name)s（经法定代表人 %(rep)s 授权，授权至 %(until)s）") % {
            "name": self.name,
            "rep": self.granted_by,
            "until": chinese_date(self.granted_until) if self.granted_until else "",
        }


def signing_delegation(application: Application, user_id: int, day: dt.date) -> Delegation | None:
    """The handler's grant in force on ``day`` that holds the signing right."""
    delegation = (
        Delegation.objects.filter(enterprise_id=application.enterprise_id, handler_id=user_id)
        .select_related("granted_by")
        .order_by("-granted_at", "-id")
        .first()
    )
    if delegation is None or Right.SIGN not in delegation.rights or delegation.expires_on < day:
        return None
    if delegation.revoked_at is not None and timezone.localdate(delegation.revoked_at) <= day:
        return None
    return delegation


def signature_of(application: Application) -> Signature | None:
    """Row 26 as confirmed on the platform; ``None`` when not confirmed by an account."""
    user = application.declared_by
    if not application.declaration_accepted or user is None:
        return None
    name = str(user)
    if application.enterprise.legal_representative_id == user.pk:
        return Signature(name=name, legal_representative=True)
    day = timezone.localdate(application.submitted_at) if application.submitted_at else timezone.localdate()
    delegation = signing_delegation(application, user.pk, day)
    if delegation is None:
        return Signature(name=name, legal_representative=False, granted_by=_("（无有效签署授权）"))
    return Signature(
        name=name,
        legal_representative=False,
        granted_by=str(delegation.granted_by),
        granted_until=delegation.expires_on,
    )


def signature_text(application: Application) -> str:
    signature = signature_of(application)
    return signature.text() if signature is not None else ""
