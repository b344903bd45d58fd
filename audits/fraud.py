"""The outcome of a fraud finding (docs/audits.md): the clawback of the subsidy paid, its
repayments and write-off, and the blacklist of the enterprise."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import Role
from applications import money
from applications.models import Application
from applications.states import TRANSITIONS, Status
from audits import notify
from audits.guards import AuditRefused, require, required_text
from audits.models import Clawback, Finding, Repayment
from core.lib.money import display_money, format_money, round_half_up
from core.transactions import durable
from enterprises.models import Enterprise
from ledger.actions import record_event
from review.transitions import record_step


def clawback_default(application: Application, finding: Finding | None) -> Decimal | None:
    """What the clawback form proposes: the amount the finding found (the part, for 部分认定), else
    its amount at issue, else the whole payment."""
    found = finding.amount_found if finding is not None and finding.amount_found is not None else None
    if found is None and finding is not None:
        found = finding.amount_at_issue
    if found is not None:
        return min(found, application.paid_amount or found)
    return application.paid_amount or application.granted_amount


def claw_back(
    application: Application,
    amount: Decimal | None = None,
    *,
    actor: User,
    reason: str,
    finding: Finding | None = None,
    request: HttpRequest | None = None,
) -> Clawback:
    """追回: reclaim all or part of a paid subsidy and open a receivable for it (五 4).

    ``amount`` defaults to the finding's amount at issue. Clawing back the whole payment takes
    the application to 已追回, a part to 部分追回: the enterprise keeps the rest, and only what
    is clawed back stops counting against its annual cap (docs/subsidy.md). The application's
    row and then the enterprise's are locked in the order final approval locks them
    (``applications.money``), so a concurrent approval sees the freed quota or not at all and
    the two never deadlock. The application's money record, the enterprise-year record and the
    receivable are written together.
    """
    require(actor, Role.INSPECTOR, action="application.clawback", obj=application, request=request)
    text = required_text(reason, required=_("请填写追回理由"), field="reason")
    if finding is not None and (finding.application_id != application.pk or not finding.is_upheld):
        raise AuditRefused({"finding": [_("只能依据该申请已认定属实的核查发现追回")]})
    if amount is None:
        amount = clawback_default(application, finding) if finding is not None else None
        if amount is None:
            raise AuditRefused({"amount": [_("请填写追回金额")]})
    if not amount.is_finite() or amount <= 0 or amount != round_half_up(amount):
        raise AuditRefused({"amount": [_("追回金额须为正数，至多两位小数")]})
    with durable():
        app, _enterprise = money.lock_money_rows(application.pk)
        if Status(app.status) not in TRANSITIONS["clawback"].sources:
            raise AuditRefused(
                _("只有已兑现的申请可以追回，当前状态：%(status)s") % {"status": app.get_status_display()}
            )
        paid = app.paid_amount
        if amount > paid:
            raise AuditRefused(
                {"amount": [_("追回金额不能超过已兑现的补贴 %(paid)s 元") % {"paid": display_money(paid)}]}
            )
        transition = TRANSITIONS["clawback" if amount == paid else "partial_clawback"]
        before = app.status
        money.claw_back(app, amount, status=transition.target)
        clawback = Clawback.objects.create(
            application=app, finding=finding, amount=amount, reason=text, created_by=actor
        )
        record_step(
            app,
            transition.name,
            actor=actor,
            opinion=text,
            status_before=before,
            data={
                "clawback_id": clawback.pk,
                "amount": format_money(amount),
                "kept": format_money(app.kept_amount),
                "finding_id": finding.pk if finding else None,
            },
        )
        record_event(
            f"application.{transition.name}",
            actor=actor,
            obj=app,
            before={"status": before},
            after={
                "status": app.status,
                "amount": format_money(amount),
                "kept": format_money(app.kept_amount),
                "reason": text,
                "clawback_id": clawback.pk,
                "finding_id": finding.pk if finding else None,
            },
            request=request,
        )
        clawback_id = clawback.pk
        transaction.on_commit(lambda: notify.clawback_opened(clawback_id), robust=True)
    return clawback


def _settle(locked: Clawback) -> None:
    """The receivable's status from what is repaid and written off."""
    if locked.outstanding > 0:
        locked.status = Clawback.Status.PARTIALLY_REPAID if locked.repaid else Clawback.Status.OPEN
    elif locked.written_off:
        locked.status = Clawback.Status.WRITTEN_OFF
    else:
        locked.status = Clawback.Status.REPAID


def record_repayment(
    clawback: Clawback,
    *,
    amount: Decimal,
    date: dt.date,
    reference: str,
    actor: User,
    request: HttpRequest | None = None,
) -> Repayment:
    """A repayment (缴回) received against a clawback, one instalment of any size up to what is
    outstanding; the receivable closes when fully repaid."""
    require(actor, Role.INSPECTOR, Role.FINANCE, action="audit.repayment", obj=clawback, request=request)
    ref = (reference or "").strip()
    if not ref:
        raise AuditRefused({"reference": [_("请填写银行流水号")]})
    if not amount.is_finite() or amount <= 0 or amount != round_half_up(amount):
        raise AuditRefused({"amount": [_("到账金额须为正数，至多两位小数")]})
    if date > timezone.localdate():
        raise AuditRefused({"date": [_("到账日期不能晚于今天")]})
    with durable():
        locked = Clawback.objects.select_for_update().get(pk=clawback.pk)
        app, _enterprise = money.lock_money_rows(locked.application_id)
        if amount > locked.outstanding:
            raise AuditRefused(
                {
                    "amount": [
                        _("到账金额超过尚未缴回的 %(left)s 元") % {"left": display_money(locked.outstanding)}
                    ]
                }
            )
        before = {"status": locked.status, "repaid": format_money(locked.repaid)}
        repayment = Repayment.objects.create(
            clawback=locked, amount=amount, date=date, reference=ref, recorded_by=actor
        )
        locked.repaid += amount
        _settle(locked)
        locked.save(update_fields=["repaid", "status"])
        money.add_repayment(app, amount)
        record_event(
            "audit.repayment",
            actor=actor,
            obj=locked,
            before=before,
            after={
                "status": locked.status,
                "repaid": format_money(locked.repaid),
                "outstanding": format_money(locked.outstanding),
                "amount": format_money(amount),
                "date": date.isoformat(),
                "reference": ref,
                "application_id": app.pk,
            },
            enterprise_id=app.enterprise_id,
            request=request,
        )
    return repayment


def write_off_clawback(
    clawback: Clawback, *, reason: str, actor: User, request: HttpRequest | None = None
) -> Clawback:
    """核销: close a receivable that cannot be collected, writing off what is still outstanding.

    Finance decides, with written reasons; the written-off sum stays on the money record, apart
    from what was repaid, so the reports show both.
    """
    require(actor, Role.FINANCE, action="audit.write_off", obj=clawback, request=request)
    text = required_text(reason, required=_("请填写核销理由"), field="reason")
    with durable():
        locked = Clawback.objects.select_for_update().get(pk=clawback.pk)
        app, _enterprise = money.lock_money_rows(locked.application_id)
        left = locked.outstanding
        if left <= 0:
            raise AuditRefused(_("该追回应收款已结清，无需核销"))
        before = {"status": locked.status, "outstanding": format_money(left)}
        locked.written_off += left
        locked.written_off_at = timezone.now()
        locked.written_off_reason = text
        _settle(locked)
        locked.save(update_fields=["written_off", "written_off_at", "written_off_reason", "status"])
        money.add_write_off(app, left)
        record_event(
            "audit.write_off",
            actor=actor,
            obj=locked,
            before=before,
            after={
                "status": locked.status,
                "written_off": format_money(left),
                "reason": text,
                "application_id": app.pk,
            },
            enterprise_id=app.enterprise_id,
            request=request,
        )
    return locked


def blacklist_enterprise(
    enterprise: Enterprise, *, reason: str, actor: User, request: HttpRequest | None = None
) -> Enterprise:
    """列入黑名单: the enterprise's new applications are refused, with this reason shown to it."""
    require(actor, Role.INSPECTOR, action="enterprise.blacklist", obj=enterprise, request=request)
    text = required_text(reason, required=_("请填写列入黑名单的原因"), field="reason")
    with durable():
        locked = Enterprise.objects.select_for_update().get(pk=enterprise.pk)
        if locked.blacklisted:
            raise AuditRefused(_("该企业已在黑名单中"))
        locked.blacklisted = True
        locked.blacklist_reason = text
        locked.blacklisted_at = timezone.now()
        locked.save(update_fields=["blacklisted", "blacklist_reason", "blacklisted_at"])
        record_event(
            "enterprise.blacklist",
            actor=actor,
            obj=locked,
            before={"blacklisted": False},
            after={"blacklisted": True, "reason": text},
            request=request,
        )
        enterprise_id = locked.pk
        transaction.on_commit(lambda: notify.blacklisted(enterprise_id), robust=True)
    return locked


def lift_blacklist(
    enterprise: Enterprise, *, reason: str, actor: User, request: HttpRequest | None = None
) -> Enterprise:
    """移出黑名单: the enterprise may apply again; the earlier reason stays in the log."""
    require(actor, Role.INSPECTOR, action="enterprise.blacklist_lift", obj=enterprise, request=request)
    text = required_text(reason, required=_("请填写移出黑名单的理由"), field="reason")
    with durable():
        locked = Enterprise.objects.select_for_update().get(pk=enterprise.pk)
        if not locked.blacklisted:
            raise AuditRefused(_("该企业不在黑名单中"))
        before = {
            "blacklisted": True,
            "reason": locked.blacklist_reason,
            "blacklisted_at": locked.blacklisted_at.isoformat() if locked.blacklisted_at else None,
        }
        locked.blacklisted = False
        locked.blacklist_reason = ""
        locked.blacklisted_at = None
        locked.save(update_fields=["blacklisted", "blacklist_reason", "blacklisted_at"])
        record_event(
            "enterprise.blacklist_lift",
            actor=actor,
            obj=locked,
            before=before,
            after={"blacklisted": False, "reason": text},
            request=request,
        )
    return locked
