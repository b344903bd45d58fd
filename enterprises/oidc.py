"""Who signs in through the unified identity platform: claims → a platform user.

Lives here, not in accounts, because an enterprise login is matched to the enterprise
register by its 统一社会信用代码 (USCC) claim, and enterprises sits above accounts.

- A linked identity (issuer, subject) signs in as its user.
- An enterprise login (USCC claim) of a registered enterprise gets an applicant account in it;
  a legal-representative claim makes that account the enterprise's legal representative. An
  unregistered USCC starts the registration form prefilled from the claims.
- Anyone else is staff: the account is created without a role and may sign in only once the
  security administrator has given it one (docs/security.md, 三权分立).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Group
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import OidcIdentity, User
from accounts.oidc import Identity, refused
from accounts.roles import Role
from core.transactions import batch
from enterprises.actions import set_legal_representative
from enterprises.models import Enterprise
from ledger.actions import record_event


@dataclass(frozen=True)
class Outcome:
    """Either the user to sign in, or the registration prefill of an unregistered enterprise."""

    user: User | None = None
    registration: dict[str, str] | None = None


def _free_username(hint: str) -> str:
    candidate, n = hint, 1
    while User.objects.filter(username__iexact=candidate).exists():
        n += 1
        candidate = f"{hint}-{n}"
    return candidate


def _create_user(identity: Identity, *, enterprise: Enterprise | None, request: HttpRequest | None) -> User:
    user = User(
        username=_free_username(identity.username_hint),
        display_name=identity.name,
        email=identity.email,
        phone=identity.phone,
        enterprise=enterprise,
    )
    user.set_unusable_password()  # signs in at the identity platform only, until a password is set
    user.save()
    if enterprise is not None:
        user.groups.add(Group.objects.get_or_create(name=Role.APPLICANT)[0])
    OidcIdentity.objects.create(user=user, issuer=identity.issuer, subject=identity.subject)
    record_event(
        "auth.oidc_account_created",
        actor=user,
        obj=user,
        after={
            "issuer": identity.issuer,
            "subject": identity.subject,
            "enterprise_id": getattr(enterprise, "pk", None),
        },
        enterprise_id=getattr(enterprise, "pk", None),
        request=request,
    )
    return user


def sign_in(identity: Identity, *, request: HttpRequest | None = None) -> Outcome:
    """Map verified claims to a platform user (see the module docstring), or refuse with a reason.

    An account created for a staff login is kept even though the login is refused, so that the
    security administrator can give it a role.
    """
    reason = ""
    with batch():
        link = (
            OidcIdentity.objects.select_related("user", "user__enterprise")
            .filter(issuer=identity.issuer, subject=identity.subject)
            .first()
        )
        if link is not None:
            user = link.user
        elif identity.uscc:
            enterprise = Enterprise.objects.filter(uscc=identity.uscc).first()
            if enterprise is None:
                return Outcome(registration=registration_prefill(identity))
            user = _create_user(identity, enterprise=enterprise, request=request)
        else:
            user = _create_user(identity, enterprise=None, request=request)
        if identity.uscc and user.enterprise is not None and user.enterprise.uscc != identity.uscc:
            reason = "enterprise_mismatch"
        elif not user.is_active:
            reason = "inactive"
        elif not user.role_codes():
            reason = "no_role"
        else:
            if identity.legal_representative and user.enterprise is not None:
                set_legal_representative(
                    user.enterprise, user, actor=user, source="identity_provider", request=request
                )
            OidcIdentity.objects.filter(issuer=identity.issuer, subject=identity.subject).update(
                last_login_at=timezone.now()
            )
    if reason:
        raise refused(reason, subject=identity.subject)
    return Outcome(user=user)


def registration_prefill(identity: Identity) -> dict[str, str]:
    """The registration form's initial values from the claims, and the identity to link after."""
    data = {"uscc": identity.uscc, "issuer": identity.issuer, "subject": identity.subject}
    if identity.legal_representative:
        data["legal_rep_name"] = identity.name
        data["legal_rep_phone"] = identity.phone
    data |= {"handler_name": identity.name, "handler_phone": identity.phone, "handler_email": identity.email}
    data["username"] = identity.username_hint
    return {k: v for k, v in data.items() if v}


def link_registered(user: User, prefill: dict[str, Any], *, request: HttpRequest | None = None) -> None:
    """After a registration started from an enterprise login, link the identity to the new user."""
    issuer, subject = prefill.get("issuer"), prefill.get("subject")
    if not issuer or not subject:
        return
    OidcIdentity.objects.get_or_create(issuer=issuer, subject=subject, defaults={"user": user})
    record_event(
        "auth.oidc_linked",
        actor=user,
        obj=user,
        after={"issuer": issuer, "subject": subject},
        request=request,
    )
