"""Reconciliation (docs/audits.md): the declared consumption against the monitored usage, one
stored run per application and checkpoint, repeatable and idempotent."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import connection, models, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from applications.models import Application
from audits import queries, rules, setwise, time_bounds, usage_checks
from audits.guards import AuditRefused, local, params_for
from audits.models import ReconciliationRun
from core.lib.money import round_half_up
from ledger.actions import record_event
from ledger.models import Checkpoint
from ledger.rows import seal
from policy.loader import PolicyParams, params_at

logger = logging.getLogger(__name__)


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
    flags = [*flags, *time_bounds.witness_time_flags(application, params, checkpoint.tree_size)]
    flags = usage_checks.with_usage_flags(application, flags, params)
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
    params = params_for(app)
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
    inputs = setwise.inputs_for_many(apps, checkpoint, settlement_amounts=settlements)
    by_id = {a.pk: a for a in apps}
    with time_bounds.batch(), usage_checks.batch(apps):
        for item in inputs:
            app = by_id[item.application_id]
            day = local(app.submitted_at) or timezone.localdate()
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
        seal(ReconciliationRun, [run.pk for run in runs])
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
    seal(ReconciliationRun, [run.pk for run in runs])
