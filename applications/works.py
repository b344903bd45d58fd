"""Works before applications (docs/offers.md): an enterprise registers a work when production starts
and gets its reference, the ``work_ref`` its providers and the agent put on usage.

- :func:`register_work` — the enterprise registers a work (title, expected filing number, planned platforms);
- :func:`verify_filing` — the center marks a launched work's filing certificate as verified, so it is
  not asked again;
- :func:`platform_held_kinds` — the materials the platform itself holds for an application opened from
  an offer, counted as provided by the submission checks.

The launch and the offer it triggers read the usage the log holds and live in ``review.offers``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import STAFF_ROLES, Role
from applications.models import Application, MaterialKind, Offer, UsageLineRow, Work
from core.lib.usage_vocabulary import APPLICANT_DECLARED
from core.refusals import Refused
from core.transactions import durable
from enterprises.models import Enterprise, Right
from enterprises.permissions import RightRefused, record_use, require_right
from ledger.actions import record_event
from policy.loader import PolicyNotInForceError, params_at


class WorkRefused(Refused):
    """The work action is not possible; the message is Chinese."""

    status = 409
    code = "illegal_state"


def reference_for(work: Work, year: int) -> str:
    """``ZP2026-000012``: the registration year and the work's number, unique by construction."""
    return f"ZP{year}-{work.pk:06d}"


def require_enterprise_right(
    actor: User, enterprise_id: int | None, right: str, request: HttpRequest | None = None
) -> Any:
    """Only a user of the enterprise acts for it, with the right from its legal representative."""
    if enterprise_id is None or not actor.has_role(Role.APPLICANT) or actor.enterprise_id != enterprise_id:
        raise PermissionDenied
    try:
        return require_right(actor, enterprise_id, right, request=request)
    except RightRefused as exc:
        raise WorkRefused(exc.message) from exc


def register_work(
    *,
    actor: User,
    title: str,
    expected_filing_number: str = "",
    planned_platforms: str = "",
    request: HttpRequest | None = None,
) -> Work:
    """Register a work of the actor's verified enterprise and give it its reference."""
    delegation = require_enterprise_right(actor, actor.enterprise_id, Right.PREPARE, request)
    title = (title or "").strip()
    if not title:
        raise WorkRefused(_("请填写作品名称"))
    if len(title) > 100:
        raise WorkRefused(_("作品名称不能超过 100 个字符"))
    assert actor.enterprise_id is not None
    with durable():
        enterprise = Enterprise.objects.select_for_update().get(pk=actor.enterprise_id)
        if enterprise.status != Enterprise.Status.VERIFIED or enterprise.blacklisted:
            raise WorkRefused(_("企业信息尚未通过区文促中心核验或已被列入黑名单，不能登记作品"))
        work = Work.objects.create(
            enterprise=enterprise,
            title=title,
            expected_filing_number=(expected_filing_number or "").strip()[:64],
            planned_platforms=(planned_platforms or "").strip()[:100],
            registered_by=actor,
        )
        work.reference = reference_for(work, timezone.localdate().year)
        work.save(update_fields=["reference"])
        record_use(delegation, Right.PREPARE, actor=actor, obj=work, request=request)
        record_event(
            "work.register",
            actor=actor,
            obj=work,
            after={"reference": work.reference, "title": work.title},
            enterprise_id=enterprise.pk,
            request=request,
        )
    return work


def verify_filing(work: Work, *, actor: User, request: HttpRequest | None = None) -> Work:
    """The center has checked the work's filing certificate: it is held and not asked again."""
    if not actor.has_role(*STAFF_ROLES):
        raise PermissionDenied
    with durable():
        locked = Work.objects.select_for_update().get(pk=work.pk)
        if not locked.filing_number:
            raise WorkRefused(_("作品尚未登记备案编号"))
        locked.filing_verified = True
        locked.save(update_fields=["filing_verified"])
        record_event(
            "work.filing_verified",
            actor=actor,
            obj=locked,
            after={"filing_number": locked.filing_number},
            enterprise_id=locked.enterprise_id,
            request=request,
        )
    return locked


def stamped_form_required(day: Any = None) -> bool:
    """Policy ``form.stamped_copy_required``: whether a scanned stamped 申请表 must still be uploaded
    for an application opened from an offer (off unless the district requires paper)."""
    try:
        params = params_at(day or timezone.localdate())
    except PolicyNotInForceError:
        return False
    return bool(params.extra.get("form.stamped_copy_required", False))


def platform_held_kinds(application: Application) -> set[str]:
    """Materials the platform holds for an application opened from an offer (docs/offers.md):
    the consumption detail and usage log it generated, the settlement vouchers where every line is
    platform-held, the filing certificate once verified, and the 申请表 it generates and seals at
    submission unless the policy asks for a stamped copy. Empty for other applications."""
    offer = Offer.objects.filter(application_id=application.pk).select_related("work").first()
    if offer is None:
        return set()
    held: set[str] = set()
    if not UsageLineRow.objects.filter(application=application, source=APPLICANT_DECLARED).exists():
        held.add(MaterialKind.SETTLEMENT_VOUCHER.value)
    if offer.work.filing_verified and offer.work.filing_number == application.filing_number:
        held.add(MaterialKind.FILING_CERTIFICATE.value)
    if not stamped_form_required():
        held.add(MaterialKind.APPLICATION_FORM.value)
    return held
