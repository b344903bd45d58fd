"""Findings of an audit (docs/audits.md): the finding itself, the data notice to the enterprise,
its objection with evidence, and the decision."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import Role
from applications.models import Application
from audits import notify
from audits.guards import MAX_EVIDENCE_FILES, AuditRefused, require, required_text
from audits.models import DataNotice, Finding, Objection, ObjectionEvidence, ReconciliationRun, SpotCheck
from core.filetypes import DOCUMENT_TYPES
from core.formats import date_text, money_text
from core.lib.money import round_half_up
from core.transactions import durable
from core.uploads import CheckedUpload, check_upload, stored_files
from enterprises.models import Right
from enterprises.permissions import RightRefused, record_use, require_right
from ledger.actions import record_event
from ledger.models import AuditEvent
from policy.calendar import objection_due
from policy.loader import params_at


def record_finding(
    application: Application,
    *,
    actor: User,
    description: str,
    source: str,
    spot_check: SpotCheck | None = None,
    reconciliation_run: ReconciliationRun | None = None,
    amount_at_issue: Decimal | None = None,
    request: HttpRequest | None = None,
) -> Finding:
    """Record a finding on an application, from a spot check, a reconciliation or another lead."""
    require(actor, Role.INSPECTOR, action="audit.finding.create", obj=application, request=request)
    text = required_text(description, required=_("请填写核查情况"), field="description")
    if source not in Finding.Source.values:
        raise AuditRefused({"source": [_("来源不正确")]})
    if spot_check is not None and application.pk not in spot_check.sample_ids:
        raise AuditRefused(
            {"spot_check": [_("该申请不在 %(quarter)s 抽查样本中") % {"quarter": spot_check.quarter}]}
        )
    if reconciliation_run is not None and reconciliation_run.application_id != application.pk:
        raise AuditRefused({"reconciliation_run": [_("对账记录不属于该申请")]})
    if amount_at_issue is not None and (not amount_at_issue.is_finite() or amount_at_issue < 0):
        raise AuditRefused({"amount_at_issue": [_("涉及金额须为非负数")]})
    with durable():
        finding = Finding.objects.create(
            application=application,
            source=source,
            spot_check=spot_check,
            reconciliation_run=reconciliation_run,
            flag_codes=reconciliation_run.flag_codes if reconciliation_run else [],
            description=text,
            amount_at_issue=round_half_up(amount_at_issue) if amount_at_issue is not None else None,
            created_by=actor,
        )
        record_event(
            "audit.finding.create",
            actor=actor,
            obj=finding,
            after={
                "application_id": application.pk,
                "source": source,
                "flags": finding.flag_codes,
                "spot_check": spot_check.quarter if spot_check else None,
            },
            request=request,
        )
    return finding


def send_data_notice(
    finding: Finding,
    *,
    actor: User,
    text: str,
    notice_date: dt.date | None = None,
    request: HttpRequest | None = None,
) -> DataNotice:
    """数据告知: tell the enterprise the finding; it may object by the 5th working day after (五 3)."""
    require(actor, Role.INSPECTOR, action="audit.data_notice", obj=finding, request=request)
    body = required_text(text, required=_("请填写告知内容"), field="text")
    day = notice_date or timezone.localdate()
    params = params_at(day)
    settled = objection_due(day, params)
    deadline = settled.date
    with durable():
        locked = Finding.objects.select_for_update().select_related("application").get(pk=finding.pk)
        if locked.status != Finding.Status.OPEN:
            raise AuditRefused(_("该核查发现已告知或已认定，不能重复告知"))
        notice = DataNotice.objects.create(
            finding=locked,
            notice_date=day,
            objection_deadline=deadline,
            text=body,
            policy_version=params.version,
            sent_by=actor,
        )
        locked.status = Finding.Status.NOTIFIED
        locked.save(update_fields=["status"])
        record_event(
            "audit.data_notice",
            actor=actor,
            obj=notice,
            before={"status": Finding.Status.OPEN},
            after={
                "finding_id": locked.pk,
                "application_id": locked.application_id,
                "status": locked.status,
                "notice_date": day.isoformat(),
                "objection_deadline": deadline.isoformat(),
                "objection_deadline_provisional": settled.provisional,
            },
            enterprise_id=locked.application.enterprise_id,
            request=request,
        )
        notice_id = notice.pk
        transaction.on_commit(lambda: notify.data_notice_sent(notice_id), robust=True)
    return notice


def _check_evidence(files: Sequence[UploadedFile[bytes]]) -> list[CheckedUpload]:
    """Check every file before any is stored."""
    if len(files) > MAX_EVIDENCE_FILES:
        raise AuditRefused({"evidence": [_("证据文件不超过 %(n)d 个") % {"n": MAX_EVIDENCE_FILES}]})
    checked = []
    for upload in files:
        try:
            checked.append(check_upload(upload, DOCUMENT_TYPES))
        except ValidationError as exc:
            raise AuditRefused({"evidence": exc.messages}) from exc
    return checked


def file_objection(
    notice: DataNotice,
    *,
    actor: User,
    statement: str,
    files: Sequence[UploadedFile[bytes]] = (),
    request: HttpRequest | None = None,
) -> Objection:
    """异议: the enterprise objects to a data notice with a statement and evidence.

    Accepted up to and including the objection deadline (Asia/Shanghai date); after it the
    objection is refused with the deadline named, and the refused attempt is audited.
    """
    require(actor, Role.APPLICANT, action="audit.objection", obj=notice, request=request)
    finding = notice.finding
    enterprise_id = finding.application.enterprise_id
    if actor.enterprise_id != enterprise_id:
        raise PermissionDenied
    try:
        delegation = require_right(actor, enterprise_id, Right.OBJECT, obj=notice, request=request)
    except RightRefused as exc:
        raise AuditRefused(exc.message, code="not_delegated") from exc
    today = timezone.localdate()
    if today > notice.objection_deadline:
        message = _(
            "异议期限已于 %(deadline)s 届满（告知日 %(notice)s 起 %(days)d 个工作日），不再受理异议"
        ) % {
            "deadline": date_text(notice.objection_deadline),
            "notice": date_text(notice.notice_date),
            "days": params_at(notice.notice_date).objection_workdays,
        }
        record_event(
            "audit.objection",
            actor=actor,
            obj=notice,
            after={"error": message, "objection_deadline": notice.objection_deadline.isoformat()},
            result=AuditEvent.Result.FAILURE,
            enterprise_id=enterprise_id,
            request=request,
        )
        raise AuditRefused(message, code="objection_late")
    text = required_text(statement, required=_("请填写异议陈述"), field="statement")
    checked = _check_evidence(files)
    # A refused objection leaves no evidence file behind.
    with stored_files() as evidence, durable():
        locked = Finding.objects.select_for_update().get(pk=finding.pk)
        if locked.status != Finding.Status.NOTIFIED or Objection.objects.filter(notice=notice).exists():
            raise AuditRefused(_("该告知已提出异议或已作出认定，不能再次提出"))
        stored = [(c, evidence.save("objections", c)) for c in checked]
        objection = Objection.objects.create(
            notice=notice, statement=text, submitted_by=actor, submitted_at=timezone.now()
        )
        ObjectionEvidence.objects.bulk_create(
            [
                ObjectionEvidence(
                    objection=objection,
                    file=path,
                    original_name=c.original_name,
                    mime=c.mime,
                    size=len(c.content),
                    sha256=c.sha256,
                    flags=list(c.flags),
                    signature=c.signature,
                )
                for c, path in stored
            ]
        )
        locked.status = Finding.Status.OBJECTED
        locked.save(update_fields=["status"])
        record_use(delegation, Right.OBJECT, actor=actor, obj=objection, request=request)
        record_event(
            "audit.objection",
            actor=actor,
            obj=objection,
            before={"status": Finding.Status.NOTIFIED},
            after={
                "finding_id": locked.pk,
                "status": locked.status,
                "evidence": [{"name": c.original_name, "sha256": c.sha256} for c, _path in stored],
            },
            enterprise_id=enterprise_id,
            request=request,
        )
        objection_id = objection.pk
        transaction.on_commit(lambda: notify.objection_filed(objection_id), robust=True)
    return objection


def decide_finding(
    finding: Finding,
    *,
    actor: User,
    upheld: bool,
    reasons: str,
    amount_found: Decimal | None = None,
    request: HttpRequest | None = None,
) -> Finding:
    """The inspector's decision on a finding, with written reasons.

    Upheld with ``amount_found`` below the amount at issue is 部分认定: the finding holds for
    that amount only, and a clawback proposes it.

    Upholding needs a data notice and either the enterprise's objection or the end of the
    objection period, so the enterprise is always heard first; an open finding may be dismissed.
    """
    require(actor, Role.INSPECTOR, action="audit.finding.decide", obj=finding, request=request)
    text = required_text(reasons, required=_("请填写认定理由"), field="reasons")
    with durable():
        locked = Finding.objects.select_for_update().select_related("application").get(pk=finding.pk)
        notice = DataNotice.objects.filter(finding=locked).first()
        before = locked.status
        if not locked.is_open:
            raise AuditRefused(_("该核查发现已作出认定"))
        if upheld and locked.status == Finding.Status.OPEN:
            raise AuditRefused(_("认定属实前须先向企业发送数据告知，听取其异议"))
        if (
            locked.status == Finding.Status.NOTIFIED
            and notice is not None
            and timezone.localdate() <= notice.objection_deadline
        ):
            raise AuditRefused(
                _("异议期尚未届满（截止 %(deadline)s），企业提出异议或期满后方可认定")
                % {"deadline": date_text(notice.objection_deadline)}
            )
        locked.status, locked.amount_found = _outcome(locked, upheld, amount_found)
        locked.decision_reasons = text
        locked.decided_by = actor
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "amount_found", "decision_reasons", "decided_by", "decided_at"])
        record_event(
            "audit.finding.decide",
            actor=actor,
            obj=locked,
            before={"status": before},
            after={
                "status": locked.status,
                "reasons": text,
                "found_amount": str(locked.amount_found) if locked.amount_found is not None else None,
            },
            enterprise_id=locked.application.enterprise_id if notice is not None else None,
            request=request,
        )
        if notice is not None:
            finding_id = locked.pk
            transaction.on_commit(lambda: notify.finding_decided(finding_id), robust=True)
    return locked


def _outcome(finding: Finding, upheld: bool, amount_found: Decimal | None) -> tuple[str, Decimal | None]:
    """The status and the amount a decision finds: 不予认定, 认定属实 (the whole amount at issue) or
    部分认定 (a positive amount below it)."""
    if not upheld:
        return Finding.Status.DISMISSED, None
    at_issue = finding.amount_at_issue
    if amount_found is None or (at_issue is not None and amount_found == at_issue):
        return Finding.Status.UPHELD, at_issue
    if not amount_found.is_finite() or amount_found <= 0 or amount_found != round_half_up(amount_found):
        raise AuditRefused({"amount_found": [_("认定金额须为正数，至多两位小数")]})
    if at_issue is not None and amount_found > at_issue:
        raise AuditRefused(
            {"amount_found": [_("认定金额不能超过涉及金额 %(amount)s 元") % {"amount": money_text(at_issue)}]}
        )
    return Finding.Status.PARTIAL, amount_found
