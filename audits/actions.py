"""Audit actions (核查, docs/audits.md): one function per business event.

Each runs in one transaction, takes the actor as keyword-only ``actor=``, writes an audit
event (and so a log entry) in that transaction, and sends notifications after commit.

Events about findings are logged against the finding (not the enterprise) until a data
notice is sent, so an enterprise cannot learn from its own log entries that it is under
review; from the notice on, events name the enterprise.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, models, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import Role
from applications.models import Application
from applications.states import TRANSITIONS, Status
from audits import notify, queries, rules
from audits.models import (
    Clawback,
    DataNotice,
    Finding,
    Objection,
    ObjectionEvidence,
    ReconciliationRun,
    Repayment,
    SpotCheck,
)
from audits.sampling import SampleUnavailable, compute_sample  # noqa: F401 - SampleUnavailable is raised through here
from enterprises.models import Enterprise, Right
from enterprises.permissions import RightRefused, record_use, require_right
from ledger.actions import record_event
from ledger.models import AuditEvent, Checkpoint
from policy.calendar import objection_due
from policy.loader import PolicyParams, params_at
from review.actions import record_step, release_annual_grant
from yingdu.lib.money import format_money, round_half_up
from yingdu.uploads import DOCUMENT_TYPES, CheckedUpload, check_upload, stored_files

logger = logging.getLogger(__name__)

MAX_TEXT = 5000
MAX_EVIDENCE_FILES = 10


class AuditRefused(ValidationError):
    """An audit action refused, with a Chinese message (and the field it concerns, if any)."""


def _require(actor: User, *roles: str) -> None:
    if actor is None or not actor.is_authenticated or not actor.has_role(*roles):
        raise PermissionDenied


def _text(value: str, *, required: str, field: str) -> str:
    text = (value or "").strip()
    if not text:
        raise AuditRefused({field: [required]})
    if len(text) > MAX_TEXT:
        raise AuditRefused({field: [_("不超过 %(n)d 字") % {"n": MAX_TEXT}]})
    return text


def _local(value: dt.datetime | None) -> dt.date | None:
    return timezone.localdate(value) if value is not None else None


def _params_for(application: Application) -> PolicyParams:
    """The policy in force on the submission date governs the application (docs/subsidy.md)."""
    return params_at(_local(application.submitted_at) or timezone.localdate())


# --- reconciliation ---------------------------------------------------------------------------------


def _digest(application_id: int, checkpoint: Checkpoint, params: PolicyParams, doc: dict[str, Any]) -> str:
    """SHA-256 of the run's inputs and flags as canonical JSON (sorted keys, no spaces).

    Every value is a string, an integer, a boolean or null (money and minutes are strings), so
    this is the RFC 8785 form without the cost of a general JCS encoder on every run.
    """
    payload = {
        "application_id": application_id,
        "checkpoint_tree_size": checkpoint.tree_size,
        "checkpoint_root": bytes(checkpoint.root_hash).hex(),
        "policy_version": params.version,
        "tolerance": str(params.audit_tolerance),
        **doc,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _build_run(
    application: Application,
    inputs: queries.ReconcileInputs,
    checkpoint: Checkpoint,
    params: PolicyParams,
    *,
    trigger: str,
    actor: User | None,
    now: dt.datetime,
) -> ReconciliationRun:
    tolerance = params.audit_tolerance
    flags = rules.reconcile(
        inputs.declared,
        inputs.monitored,
        inputs.conflicts,
        inputs.peers,
        tolerance=tolerance,
        declared_rows_after_window=inputs.declared_rows_after_window,
    )
    declared = inputs.declared.as_dict()
    monitored = {
        **inputs.monitored.as_dict(),
        "keys": [list(k) for k in inputs.keys],
        "window": rules.production_window(inputs.declared).as_dict(),
        "conflicts": len(inputs.conflicts),
        "peers": inputs.peers.count if inputs.peers else 0,
    }
    flag_dicts = [f.as_dict() for f in flags]
    return ReconciliationRun(
        application=application,
        run_at=now,
        trigger=trigger,
        actor=actor if getattr(actor, "pk", None) else None,
        checkpoint_tree_size=checkpoint.tree_size,
        checkpoint_root=bytes(checkpoint.root_hash).hex(),
        policy_version=params.version,
        tolerance=tolerance,
        settlement_amount=inputs.declared.settlement_amount,
        declared=declared,
        monitored=monitored,
        flags=flag_dicts,
        flag_count=len(flags),
        severity=rules.max_severity(flags),
        digest=_digest(
            application.pk,
            checkpoint,
            params,
            {"declared": declared, "monitored": monitored, "flags": flag_dicts},
        ),
    )


def _checkpoint(checkpoint: Checkpoint | None) -> Checkpoint:
    """The given checkpoint, or one covering the whole log now (signed if the latest does not)."""
    if checkpoint is not None:
        return checkpoint
    from ledger.actions import sign_checkpoint
    from ledger.services import latest_checkpoint_row

    sign_checkpoint()
    return latest_checkpoint_row()


def latest_settlement_amount(application: Application) -> Decimal | None:
    """The settlement voucher's amount last entered for the application, if any."""
    return (
        ReconciliationRun.objects.filter(application=application, settlement_amount__isnull=False)
        .order_by("-run_at", "-id")
        .values_list("settlement_amount", flat=True)
        .first()
    )


def run_reconciliation(
    application: Application,
    *,
    actor: User | None,
    trigger: str = ReconciliationRun.Trigger.ON_DEMAND,
    settlement_amount: Decimal | None = None,
    checkpoint: Checkpoint | None = None,
    request: HttpRequest | None = None,
) -> ReconciliationRun:
    """Reconcile one application against the monitored usage of the latest checkpoint (docs/audits.md).

    Called on submission, before final approval and on demand; the result is shown to
    reviewers and inspectors and never blocks a decision by itself. ``settlement_amount`` is
    the settlement voucher's amount as a reviewer read it (the voucher is a scan, not data);
    when not given, the amount entered last time is used. Running again against the same
    checkpoint gives the same flags and ``digest``.
    """
    if settlement_amount is not None and (not settlement_amount.is_finite() or settlement_amount < 0):
        raise AuditRefused({"settlement_amount": [_("结算凭证金额须为非负数")]})
    checkpoint = _checkpoint(checkpoint)
    app = Application.objects.select_related("enterprise").get(pk=application.pk)
    if settlement_amount is None:
        settlement_amount = latest_settlement_amount(app)
    else:
        settlement_amount = round_half_up(settlement_amount)
    params = _params_for(app)
    inputs = queries.inputs_for(app, checkpoint, settlement_amount=settlement_amount)
    with transaction.atomic():
        run = _build_run(app, inputs, checkpoint, params, trigger=trigger, actor=actor, now=timezone.now())
        run.save()
        record_event(
            "audit.reconcile",
            actor=actor,
            obj=run,
            after={
                "application_id": app.pk,
                "trigger": trigger,
                "checkpoint_tree_size": run.checkpoint_tree_size,
                "flags": run.flag_codes,
                "digest": run.digest,
            },
            request=request,
        )
    return run


def reconcile_quietly(
    application: Application, *, actor: User | None, trigger: str = ReconciliationRun.Trigger.SUBMISSION
) -> ReconciliationRun | None:
    """:func:`run_reconciliation` for other apps' actions (submission, final approval).

    A failure is logged and swallowed inside a savepoint, so reconciliation can never stop a
    submission or an approval; the reviewer sees that no run exists and can run it by hand.
    """
    try:
        with transaction.atomic():
            return run_reconciliation(application, actor=actor, trigger=trigger)
    except Exception:
        logger.exception("reconciliation of application %s failed", application.pk)
        return None


def reconcile_many(
    applications: Iterable[Application] | None = None,
    *,
    actor: User | None,
    checkpoint: Checkpoint | None = None,
    trigger: str = ReconciliationRun.Trigger.BATCH,
    chunk: int = 5000,
) -> list[ReconciliationRun]:
    """Reconcile many applications set-wise (default: every submitted one) against one checkpoint.

    Stores one run per application and one audit event for the batch.
    """
    checkpoint = _checkpoint(checkpoint)
    if applications is None:
        apps = list(
            Application.objects.filter(submitted_at__isnull=False).select_related("enterprise").order_by("pk")
        )
    else:
        apps = list(applications)
    # The amount entered last wins: rows come oldest first and later ones overwrite.
    settlements: dict[int, Decimal] = {}
    for app_id, amount in (
        ReconciliationRun.objects.filter(
            settlement_amount__isnull=False, application__in=[a.pk for a in apps]
        )
        .order_by("application_id", "run_at", "id")
        .values_list("application_id", "settlement_amount")
    ):
        if amount is not None:
            settlements[app_id] = amount
    params_by_day: dict[dt.date, PolicyParams] = {}
    now = timezone.now()
    runs: list[ReconciliationRun] = []
    inputs = queries.inputs_for_many(apps, checkpoint, settlement_amounts=settlements)
    by_id = {a.pk: a for a in apps}
    for item in inputs:
        app = by_id[item.application_id]
        day = _local(app.submitted_at) or timezone.localdate()
        if day not in params_by_day:
            params_by_day[day] = params_at(day)
        runs.append(
            _build_run(app, item, checkpoint, params_by_day[day], trigger=trigger, actor=actor, now=now)
        )
    with transaction.atomic():
        _store_runs(runs, chunk)
        flagged: dict[str, int] = defaultdict(int)
        for run in runs:
            for code in set(run.flag_codes):
                flagged[code] += 1
        record_event(
            "audit.reconcile_batch",
            actor=actor,
            after={
                "applications": len(runs),
                "checkpoint_tree_size": checkpoint.tree_size,
                "checkpoint_root": bytes(checkpoint.root_hash).hex(),
                "flagged": dict(sorted(flagged.items())),
            },
        )
    return runs


def _store_runs(runs: list[ReconciliationRun], chunk: int) -> None:
    """Insert many runs: COPY on PostgreSQL (ids drawn from the table's sequence first, so the
    returned runs have them), ``bulk_create`` elsewhere."""
    if connection.vendor != "postgresql" or not runs:
        for start in range(0, len(runs), chunk):
            ReconciliationRun.objects.bulk_create(runs[start : start + chunk])
        return
    meta = ReconciliationRun._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in [meta.pk, *fields] if f is not None)
    # JSON columns are written as their text; COPY parses it, no per-value adapter objects.
    as_text = {f.attname for f in fields if isinstance(f, models.JSONField)}

    def value(run: ReconciliationRun, name: str) -> Any:
        raw = getattr(run, name)
        return json.dumps(raw, ensure_ascii=False) if name in as_text else raw

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [meta.db_table, len(runs)],
        )
        for run, (pk,) in zip(runs, cursor.fetchall(), strict=True):
            run.pk = pk
        with cursor.cursor.copy(
            f"COPY {connection.ops.quote_name(meta.db_table)} ({columns}) FROM STDIN"
        ) as copy:
            for run in runs:
                copy.write_row([run.pk, *(value(run, f.attname) for f in fields)])
    for run in runs:
        run._state.adding = False


# --- spot checks ---------------------------------------------------------------------------------------


def open_spot_check(
    quarter: rules.Quarter | str, *, actor: User, request: HttpRequest | None = None
) -> SpotCheck:
    """Open the quarter's spot check (每季度随机抽查): draw and store the sample, and reconcile each
    sampled application. Idempotent: a quarter already drawn returns its stored spot check."""
    _require(actor, Role.INSPECTOR)
    q = rules.Quarter.parse(str(quarter))
    existing = SpotCheck.objects.filter(quarter=str(q)).first()
    if existing is not None:
        return existing
    sample, checkpoint, params = compute_sample(q)
    with transaction.atomic():
        spot = SpotCheck.objects.create(
            quarter=str(q),
            checkpoint_tree_size=checkpoint.tree_size,
            checkpoint_root=bytes(checkpoint.root_hash).hex(),
            checkpoint_note=checkpoint.note,
            checkpoint_signed_at=checkpoint.created_at,
            seed=sample.seed.hex(),
            policy_version=params.version,
            rate=params.audit_sample_rate,
            min_count=params.audit_sample_min_count,
            n=sample.n,
            k=sample.k,
            candidate_ids=[app_id for app_id, _key in sample.ordered],
            sample_ids=sample.sample_ids,
            created_by=actor,
        )
        record_event(
            "audit.spot_check",
            actor=actor,
            obj=spot,
            after={
                "quarter": spot.quarter,
                "seed": spot.seed,
                "checkpoint_tree_size": spot.checkpoint_tree_size,
                "checkpoint_root": spot.checkpoint_root,
                "n": spot.n,
                "k": spot.k,
                "sample": spot.sample_ids,
            },
            request=request,
        )
        sampled = Application.objects.filter(pk__in=spot.sample_ids).select_related("enterprise")
        if sampled:
            reconcile_many(sampled, actor=actor, trigger=ReconciliationRun.Trigger.SPOT_CHECK)
    return spot


# --- findings, data notices, objections, decisions ------------------------------------------------------


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
    _require(actor, Role.INSPECTOR)
    text = _text(description, required=_("请填写核查情况"), field="description")
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
    with transaction.atomic():
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
    _require(actor, Role.INSPECTOR)
    body = _text(text, required=_("请填写告知内容"), field="text")
    day = notice_date or timezone.localdate()
    params = params_at(day)
    settled = objection_due(day, params)
    deadline = settled.date
    with transaction.atomic():
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
    _require(actor, Role.APPLICANT)
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
            "deadline": notice.objection_deadline.isoformat(),
            "notice": notice.notice_date.isoformat(),
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
    text = _text(statement, required=_("请填写异议陈述"), field="statement")
    checked = _check_evidence(files)
    # A refused objection leaves no evidence file behind.
    with stored_files() as evidence, transaction.atomic():
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
    request: HttpRequest | None = None,
) -> Finding:
    """The inspector's decision on a finding, with written reasons.

    Upholding needs a data notice and either the enterprise's objection or the end of the
    objection period, so the enterprise is always heard first; an open finding may be dismissed.
    """
    _require(actor, Role.INSPECTOR)
    text = _text(reasons, required=_("请填写认定理由"), field="reasons")
    with transaction.atomic():
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
                % {"deadline": notice.objection_deadline.isoformat()}
            )
        locked.status = Finding.Status.UPHELD if upheld else Finding.Status.DISMISSED
        locked.decision_reasons = text
        locked.decided_by = actor
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "decision_reasons", "decided_by", "decided_at"])
        record_event(
            "audit.finding.decide",
            actor=actor,
            obj=locked,
            before={"status": before},
            after={"status": locked.status, "reasons": text},
            enterprise_id=locked.application.enterprise_id if notice is not None else None,
            request=request,
        )
        if notice is not None:
            finding_id = locked.pk
            transaction.on_commit(lambda: notify.finding_decided(finding_id), robust=True)
    return locked


# --- fraud outcome: clawback, repayment, blacklist -----------------------------------------------------


def clawback_default(application: Application, finding: Finding | None) -> Decimal | None:
    """What the clawback form proposes: the finding's amount at issue, else the whole payment."""
    if finding is not None and finding.amount_at_issue is not None:
        return min(finding.amount_at_issue, application.paid_amount or finding.amount_at_issue)
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
    is clawed back stops counting against its annual cap (docs/subsidy.md). The enterprise row is
    locked, as final approval locks it, so a concurrent approval sees the freed quota or not
    at all. The application's money record and the receivable are written together.
    """
    _require(actor, Role.INSPECTOR)
    text = _text(reason, required=_("请填写追回理由"), field="reason")
    if finding is not None and (
        finding.application_id != application.pk or finding.status != Finding.Status.UPHELD
    ):
        raise AuditRefused({"finding": [_("只能依据该申请已认定属实的核查发现追回")]})
    if amount is None:
        amount = finding.amount_at_issue if finding is not None else None
        if amount is None:
            raise AuditRefused({"amount": [_("请填写追回金额")]})
    if not amount.is_finite() or amount <= 0 or amount != round_half_up(amount):
        raise AuditRefused({"amount": [_("追回金额须为正数，至多两位小数")]})
    with transaction.atomic():
        Enterprise.objects.select_for_update().get(pk=application.enterprise_id)
        app = Application.objects.select_for_update().get(pk=application.pk)
        if Status(app.status) not in TRANSITIONS["clawback"].sources:
            raise AuditRefused(
                _("只有已兑现的申请可以追回，当前状态：%(status)s") % {"status": app.get_status_display()}
            )
        paid = app.paid_amount
        if amount > paid:
            raise AuditRefused(
                {"amount": [_("追回金额不能超过已兑现的补贴 %(paid)s 元") % {"paid": format_money(paid)}]}
            )
        transition = TRANSITIONS["clawback" if amount == paid else "partial_clawback"]
        before = app.status
        release_annual_grant(app, amount)
        app.status = transition.target
        app.clawed_back_amount = amount
        app.save(update_fields=["status", "clawed_back_amount", "updated_at"])
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
    _require(actor, Role.INSPECTOR, Role.FINANCE)
    ref = (reference or "").strip()
    if not ref:
        raise AuditRefused({"reference": [_("请填写银行流水号")]})
    if not amount.is_finite() or amount <= 0 or amount != round_half_up(amount):
        raise AuditRefused({"amount": [_("到账金额须为正数，至多两位小数")]})
    if date > timezone.localdate():
        raise AuditRefused({"date": [_("到账日期不能晚于今天")]})
    with transaction.atomic():
        locked = Clawback.objects.select_for_update().get(pk=clawback.pk)
        app = Application.objects.select_for_update().get(pk=locked.application_id)
        if amount > locked.outstanding:
            raise AuditRefused(
                {
                    "amount": [
                        _("到账金额超过尚未缴回的 %(left)s 元") % {"left": format_money(locked.outstanding)}
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
        app.repaid_amount += amount
        app.save(update_fields=["repaid_amount", "updated_at"])
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
    _require(actor, Role.FINANCE)
    text = _text(reason, required=_("请填写核销理由"), field="reason")
    with transaction.atomic():
        locked = Clawback.objects.select_for_update().get(pk=clawback.pk)
        app = Application.objects.select_for_update().get(pk=locked.application_id)
        left = locked.outstanding
        if left <= 0:
            raise AuditRefused(_("该追回应收款已结清，无需核销"))
        before = {"status": locked.status, "outstanding": format_money(left)}
        locked.written_off += left
        locked.written_off_at = timezone.now()
        locked.written_off_reason = text
        _settle(locked)
        locked.save(update_fields=["written_off", "written_off_at", "written_off_reason", "status"])
        app.written_off_amount += left
        app.save(update_fields=["written_off_amount", "updated_at"])
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
    _require(actor, Role.INSPECTOR)
    text = _text(reason, required=_("请填写列入黑名单的原因"), field="reason")
    with transaction.atomic():
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
    _require(actor, Role.INSPECTOR)
    text = _text(reason, required=_("请填写移出黑名单的理由"), field="reason")
    with transaction.atomic():
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
