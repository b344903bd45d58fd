"""Review and disbursement actions (docs/states.md): one function per transition.

Each action is one block, ``with performing(...) as app:`` (``review.transitions``): one durable
transaction (``core.transactions``) that locks the application row, checks the transition
table (``applications.states.TRANSITIONS``), the actor's role, conflicts of interest and the
separation of duties, writes a ``ReviewStep`` and an audit event, updates the application,
and sends notifications only after the commit. A refused action raises :class:`ReviewError`
and changes nothing; the refusal itself is audited (docs/security.md).

Inside each action the audit event is written before the application row is updated, so a
failure at that last write rolls the ledger entry back with everything else (docs/security.md).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from applications import money
from applications.models import Application
from applications.states import Status
from applications.subsidy import subsidy_for
from core import hooks
from core.formats import date_text
from core.lib.money import display_money
from core.models import Notification
from core.uploads import CheckedUpload, stored_files
from policy.loader import params_at
from review import rows
from review.clock import local_date
from review.models import (
    OnSiteAttachment,
    OnSiteCheck,
    Payment,
    SupplementItem,
    SupplementNotice,
    notices_of,
)
from review.resubmission import resubmit_application
from review.transitions import (
    ON_SITE_CHECK,
    TAKE_OVER,
    checked_opinion,
    claimant_of,
    finish,
    illegal_transition,
    invalid_input,
    notify_after_commit,
    performing,
)

logger = logging.getLogger(__name__)


# --- level 1: 初审 -------------------------------------------------------------------------------


def claim_application(
    application: Application, *, actor: User, opinion: str = "", request: HttpRequest | None = None
) -> Application:
    """受理: a reviewer takes a submitted application into initial review. The receipt date is the
    submission day (the clock started when the center received it online)."""
    with performing("claim", application, actor=actor, request=request) as app:
        fields: dict[str, Any] = {}
        if app.received_date is None:
            fields["received_date"] = local_date(app.submitted_at) or timezone.localdate()
        finish(app, "claim", actor=actor, opinion=checked_opinion("claim", opinion), request=request, fields=fields)
    return app


def take_over_application(
    application: Application, *, actor: User, reason: str, request: HttpRequest | None = None
) -> Application:
    """接手: a reviewer takes over the initial review another reviewer claimed (absence, workload).

    Explicit and audited: the step names the previous holder and carries the reason; from
    then on only the new holder may act at this level, and deadline reminders go to them.
    """
    with performing(TAKE_OVER, application, actor=actor, request=request) as app:
        text = (reason or "").strip()
        if not text:
            raise invalid_input(_("接手须填写原因"))
        if len(text) > 2000:
            raise invalid_input(_("意见不超过 2000 字"))
        previous = claimant_of(app)
        finish(
            app,
            TAKE_OVER,
            actor=actor,
            opinion=text,
            request=request,
            data={"previous_holder_id": previous.pk if previous else None},
            after={"previous_holder": str(previous) if previous else ""},
        )
    return app


def _checklist_codes() -> dict[str, rows.Item]:
    return {item.item_code: item for item in rows.checklist()}


def supplement_items(
    application: Application,
    items: Sequence[tuple[str, str]],
    *,
    previous: Sequence[SupplementNotice] | None = None,
) -> dict[str, str]:
    """The items of a supplement notice, code → requirement, checked as sending checks them (the
    preview shows exactly what would be sent); raises ``ReviewError`` naming what is wrong."""
    known = _checklist_codes()
    chosen: dict[str, str] = {}
    if previous is None:
        previous = list(notices_of(application.pk))
    for code, text in items:
        if code not in known:
            raise invalid_input(_("未知的补正事项：%(code)s") % {"code": code})
        requirement = (text or "").strip()
        if not requirement:
            # A ticked item without its requirement tells the applicant nothing to do.
            raise invalid_input(_("请填写补正事项“%(item)s”的具体要求") % {"item": known[code].label})
        chosen[code] = requirement
    if not chosen:
        raise invalid_input(_("请至少选择一项需要补正的材料或表单项"))
    if previous:
        changed = set(previous[-1].changed_items)
        if not changed:
            raise invalid_input(_("企业上次补正时没有变更任何事项；一次性告知后不能再次告知补正"))
        outside = [known[c].label for c in chosen if c not in changed]
        if outside:
            raise invalid_input(
                _(
                    "一次性告知：再次告知只能针对企业补正时变更的事项。以下事项在补正中未变更，不能再次告知：%(items)s"
                )
                % {"items": "、".join(outside)}
            )
    return chosen


def draft_supplement_notice(
    application: Application, items: Sequence[tuple[str, str]], note: str, *, actor: User
) -> tuple[SupplementNotice, list[SupplementItem]]:
    """The notice and its items as they will be sent, not yet saved: what the preview shows and
    what :func:`request_supplement` stores."""
    known = _checklist_codes()
    previous = list(notices_of(application.pk))
    chosen = supplement_items(application, items, previous=previous)
    notice = SupplementNotice(
        application=application,
        round=len(previous) + 1,
        note=(note or "").strip(),
        notice_date=timezone.localdate(),
        created_by=actor,
    )
    drafted = [
        SupplementItem(
            notice=notice, kind=known[code].kind, code=known[code].code, label=known[code].label, text=text
        )
        for code, text in chosen.items()
    ]
    return notice, drafted


def request_supplement(
    application: Application,
    *,
    items: Sequence[tuple[str, str]],
    note: str = "",
    actor: User,
    request: HttpRequest | None = None,
) -> SupplementNotice:
    """一次性告知: one notice naming every missing or defective item, each with the reviewer's text.

    ``items`` are ``(item_code, text)`` pairs with codes ``material:<kind>`` or ``row:<field>``.
    A second (or later) notice may name only the items the applicant changed in the latest
    resubmission (docs/states.md); anything else is refused with the list of offending items.
    """
    with performing("request_supplement", application, actor=actor, request=request) as app:
        notice, drafted = draft_supplement_notice(app, items, note, actor=actor)
        notice.save()
        for item in drafted:
            item.notice = notice
        SupplementItem.objects.bulk_create(drafted)
        chosen = [item.item_code for item in drafted]
        finish(
            app,
            "request_supplement",
            actor=actor,
            opinion=notice.note,
            request=request,
            data={"notice_id": notice.pk, "round": notice.round, "items": list(chosen)},
            after={"round": notice.round, "items": list(chosen)},
        )
        notify_after_commit(app, "supplement_notice", {"notice_id": notice.pk})
    return notice


def pass_initial_review(
    application: Application, *, actor: User, opinion: str = "", request: HttpRequest | None = None
) -> Application:
    """初审通过: to re-review (复审)."""
    with performing("pass_initial", application, actor=actor, request=request) as app:
        finish(app, "pass_initial", actor=actor, opinion=checked_opinion("pass_initial", opinion), request=request)
    return app


def reject_application(
    application: Application,
    *,
    actor: User,
    opinion: str,
    transition: str | None = None,
    request: HttpRequest | None = None,
) -> Application:
    """不通过, at initial review (``reject_initial``) or final approval (``reject_final``).

    Without ``transition`` the one matching the current state is taken. The filing number is
    freed (a rejected application holds none), and the applicant is told with the opinion.
    """
    name = transition or ("reject_final" if application.status == Status.FINAL_APPROVAL else "reject_initial")
    if name not in ("reject_initial", "reject_final"):
        raise ValueError(name)

    with performing(name, application, actor=actor, request=request) as app:
        text = checked_opinion(name, opinion)
        finish(app, name, actor=actor, opinion=text, request=request)
        notify_after_commit(app, "rejection", {"opinion": text})
    return app


def pass_re_review(
    application: Application, *, actor: User, opinion: str = "", request: HttpRequest | None = None
) -> Application:
    """复审通过: to final approval (最终审批)."""
    with performing("pass_re_review", application, actor=actor, request=request) as app:
        finish(
            app, "pass_re_review", actor=actor, opinion=checked_opinion("pass_re_review", opinion), request=request
        )
        # The approver sees a fresh reconciliation against monitoring (docs/audits.md); it never blocks.
        hooks.announce(hooks.RE_REVIEW_PASSED, application_id=app.pk, actor=actor)
    return app


def return_application(
    application: Application,
    *,
    actor: User,
    opinion: str,
    transition: str | None = None,
    request: HttpRequest | None = None,
) -> Application:
    """退回: re-review back to initial review (``return_to_initial``), or final approval back to
    re-review (``return_to_re_review``); the opinion says why."""
    name = transition or (
        "return_to_re_review" if application.status == Status.FINAL_APPROVAL else "return_to_initial"
    )
    if name not in ("return_to_initial", "return_to_re_review"):
        raise ValueError(name)

    with performing(name, application, actor=actor, request=request) as app:
        finish(app, name, actor=actor, opinion=checked_opinion(name, opinion), request=request)
    return app


# --- level 3: 审批 and the annual cap -----------------------------------------------------------


def _approval_amount(app: Application) -> tuple[dt.date, Any, Decimal, Any]:
    """The amount an approval fixes now: the rule of the submission day's policy with the quota the
    enterprise has left this year (what approval grants, and what the approver sees before)."""
    day = local_date(app.submitted_at)
    assert day is not None
    params = params_at(day)
    granted = money.kept_total(app.enterprise_id, day.year, exclude_application_id=app.pk)
    return day, params, granted, subsidy_for(app, day, params=params, granted=granted)


def approval_preview(app: Application) -> Any:
    """核定金额 as approving now would fix it (the calculation), or None when it cannot be computed."""
    if app.total_compute_cost is None or app.work_minutes is None or app.submitted_at is None:
        return None
    return _approval_amount(app)[3]


def approve_application(
    application: Application, *, actor: User, opinion: str = "", request: HttpRequest | None = None
) -> Application:
    """审批通过: fixes the granted amount under the annual cap (三（三）, docs/subsidy.md).

    The application's row and then the enterprise's are locked for the rest of the transaction,
    in the order of every change of what an enterprise keeps (``applications.money``), so
    concurrent approvals and clawbacks of one enterprise run one after another and each sees
    the totals the others committed. The amount is the rule's amount with the quota left now;
    one that would be 0 is refused.
    """
    with performing("approve", application, actor=actor, request=request) as app:
        _app, enterprise = money.lock_money_rows(app.pk)
        if enterprise.blacklisted:
            raise illegal_transition(_("企业已列入黑名单，不能批准"))
        if app.total_compute_cost is None or app.work_minutes is None or app.submitted_at is None:
            raise illegal_transition(_("申请缺少算力成本或作品时长，无法核定补贴金额"))
        day, params, granted, result = _approval_amount(app)
        if result.amount <= 0:
            raise illegal_transition(
                _("该企业%(year)d年度补助额度（上限 %(cap)s 元）已用完，不能批准；请作“审批不通过”处理")
                % {"year": day.year, "cap": display_money(params.annual_cap)}
            )
        try:
            total = money.grant(enterprise, day.year, result.amount, cap=params.annual_cap, kept=granted)
        except money.CapExceeded as exc:
            raise illegal_transition(
                _("超出企业年度补助上限 %(cap)s 元，不能批准") % {"cap": display_money(params.annual_cap)}
            ) from exc
        text = checked_opinion("approve", opinion)
        finish(
            app,
            "approve",
            actor=actor,
            opinion=text,
            request=request,
            data={"calculation": result.as_dict()},
            after={
                "granted_amount": f"{result.amount:.2f}",
                "binding": result.binding,
                "annual_total": f"{total:.2f}",
                "policy_version": result.policy_version,
            },
            fields={"granted_amount": result.amount, "approved_at": timezone.now()},
        )
        notify_after_commit(app, "approval", {"amount": result.amount, "binding": result.binding_label})
    return app


# --- 兑现 -------------------------------------------------------------------------------------


def record_payment(
    application: Application,
    *,
    date: dt.date,
    amount: Decimal,
    bank_reference: str,
    actor: User,
    request: HttpRequest | None = None,
) -> Payment:
    """兑现: finance records the disbursement. The amount must equal the granted amount (docs/states.md)."""
    with performing("pay", application, actor=actor, request=request) as app:
        granted = app.granted_amount
        if granted is None:
            raise illegal_transition(_("申请尚未核定补贴金额"))
        if amount != granted:
            raise invalid_input(
                _("兑现金额 %(amount)s 元与核定补贴金额 %(granted)s 元不一致，不能登记")
                % {"amount": f"{amount:,.2f}", "granted": f"{granted:,.2f}"}
            )
        reference = (bank_reference or "").strip()
        if not reference:
            raise invalid_input(_("请填写银行流水号"))
        approved = local_date(app.approved_at)
        if date > timezone.localdate():
            raise invalid_input(_("兑现日期不能晚于今天"))
        if approved is not None and date < approved:
            raise invalid_input(_("兑现日期不能早于审批日期 %(day)s") % {"day": date_text(approved)})
        payment = Payment.objects.create(
            application=app,
            date=date,
            amount=amount,
            granted_amount=granted,
            bank_reference=reference,
            recorded_by=actor,
        )
        finish(
            app,
            "pay",
            actor=actor,
            opinion="",
            request=request,
            data={"payment_id": payment.pk},
            after={"amount": f"{amount:.2f}", "date": date.isoformat(), "bank_reference": reference},
            fields={"paid_at": timezone.now(), "paid_amount": amount},
        )
        notify_after_commit(app, "payment", {"amount": amount, "date": date})
    return payment


# --- 实地核查 --------------------------------------------------------------------------------


def record_on_site_check(
    application: Application,
    *,
    date: dt.date,
    people: str,
    findings: str,
    attachments: Iterable[CheckedUpload] = (),
    actor: User,
    request: HttpRequest | None = None,
) -> OnSiteCheck:
    """实地核查 during initial review: date, people, findings and files. The clock keeps running."""

    # A refused check leaves no attachment behind.
    with stored_files() as files, performing(ON_SITE_CHECK, application, actor=actor, request=request) as app:
        if date > timezone.localdate():
            raise invalid_input(_("核查日期不能晚于今天"))
        if not people.strip() or not findings.strip():
            raise invalid_input(_("请填写核查人员和核查情况"))
        check = OnSiteCheck.objects.create(
            application=app, date=date, people=people.strip(), findings=findings.strip(), recorded_by=actor
        )
        stored = []
        for upload in attachments:
            path = files.save("site_checks", upload)
            OnSiteAttachment.objects.create(
                check_record=check,
                file=path,
                original_name=upload.original_name,
                mime=upload.mime,
                size=len(upload.content),
                sha256=upload.sha256,
            )
            stored.append({"name": upload.original_name, "sha256": upload.sha256})
        finish(
            app,
            ON_SITE_CHECK,
            actor=actor,
            opinion=check.findings,
            request=request,
            data={"check_id": check.pk},
            after={"date": date.isoformat(), "people": check.people, "attachments": stored},
        )
    return check


# The action of each transition this app owns (submit/withdraw belong to intake, clawback to audits).
ACTIONS: dict[str, Callable[..., Any]] = {
    "claim": claim_application,
    "request_supplement": request_supplement,
    "resubmit": resubmit_application,
    "pass_initial": pass_initial_review,
    "reject_initial": reject_application,
    "pass_re_review": pass_re_review,
    "return_to_initial": return_application,
    "return_to_re_review": return_application,
    "approve": approve_application,
    "reject_final": reject_application,
    "pay": record_payment,
}




def mark_notifications_read(user: User, ids: list[int] | None = None, *, actor: User) -> int:
    """Mark the user's unread inbox messages read: the given ones, or all. Only the owner may.

    Reading one's own messages changes nothing anyone else relies on, so it is not an audit event.
    """
    if actor.pk != user.pk:
        raise PermissionError("only the recipient marks a message read")
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=ids)
    return unread.update(read_at=timezone.now())
