"""Reading what reconciliation needs from the database (no writes).

Two paths give the same inputs to :func:`audits.rules.reconcile`:

* per application (:func:`inputs_for`), used on submission, before final approval and on demand;
* set-wise for many applications at once (:func:`audits.setwise.inputs_for_many`), used by ``yingdu audit
  reconcile --all`` and ``bench/reconcile.py``: one aggregate query grouped by the
  application's (enterprise USCC, work reference) keys, one window query for GPU time claimed
  twice, and a handful of small lookups — never one query per application.

Only monitored records with ``leaf_index`` below the checkpoint's tree size are read, so a
re-run against the same checkpoint reads the same records. Both paths read only usage rows that
still match their log entry (``monitoring.integrity``, the check ``yingdu ledger verify``
makes): the per-application path checks the rows it reads; the set-wise path adds rows up in
SQL, so it first finds every row that fails the check (``refused_rows``) and reads the
applications whose works those rows carry through the per-application functions, and leaves
them out of the double-claim lookups.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from uuid import UUID

from django.db import connection
from django.db.models import OuterRef, Q, QuerySet, Subquery

from applications.models import Application, ConsumptionRow, MaterialKind
from applications.states import Status
from audits import rules
from audits.models import ReconciliationRun
from core.lib.money import round_half_up
from ledger.models import Checkpoint
from monitoring.integrity import matching_leaves
from monitoring.models import UsageRecord

# Other applications whose claims count for double-claim checks: those still claiming a subsidy.
LIVE_CLAIM_EXCLUDED = (Status.DRAFT, Status.WITHDRAWN, Status.REJECTED)
CHUNK = 900  # SQLite allows 999 parameters per statement

Key = tuple[str, str]  # (enterprise USCC, work reference)


@dataclass
class ReconcileInputs:
    """Everything :func:`audits.rules.reconcile` needs for one application."""

    application_id: int
    keys: list[Key]
    declared: rules.Declared
    monitored: rules.MonitoredSummary
    conflicts: list[rules.Conflict] = field(default_factory=list)
    peers: rules.PeerStats | None = None
    declared_rows_after_window: int = 0


def application_keys(app: Application) -> list[Key]:
    """The (USCC, work reference) pairs under which monitored usage of this work is reported.

    docs/monitoring.md: ``work_ref`` is the filing number or the application's id (or its reference);
    the USCC is the registered enterprise's, and the one typed on the form if it differs.
    """
    usccs = sorted({u for u in (app.enterprise.uscc, app.uscc) if u})
    refs = sorted({r for r in (app.filing_number, app.reference or "", str(app.pk)) if r})
    return [(u, r) for u in usccs for r in refs]


def key_filter(keys: Sequence[Key]) -> Q:
    q = Q(pk__in=[])
    for uscc, ref in keys:
        q |= Q(enterprise_uscc=uscc, work_ref=ref)
    return q


def current_rows(app_ids: Sequence[int]) -> dict[int, list[rules.DeclaredRow]]:
    """Each application's consumption rows from the latest version of its consumption detail.

    Read as plain tuples: building tens of thousands of model instances would cost more than
    the rest of a set-wise reconciliation.
    """
    found: dict[int, list[tuple[int, int, rules.DeclaredRow]]] = defaultdict(list)
    for start in range(0, len(app_ids), CHUNK):
        qs = (
            ConsumptionRow.objects.filter(
                application_id__in=app_ids[start : start + CHUNK],
                material__kind=MaterialKind.CONSUMPTION_DETAIL,
                material__deleted=False,
            )
            .order_by("application_id", "material_id", "row_number")
            .values_list(
                "application_id",
                "material__version",
                "material_id",
                "record_id",
                "started_at",
                "ended_at",
                "quantity",
                "minutes",
                "amount",
            )
        )
        for app_id, version, material_id, record_id, started, ended, quantity, minutes, amount in qs.iterator(
            5000
        ):
            row = rules.DeclaredRow(record_id, started, ended, quantity, minutes, amount)
            found[app_id].append((version, material_id, row))
    rows: dict[int, list[rules.DeclaredRow]] = {}
    for app_id, items in found.items():
        latest = max(version for version, _m, _r in items)
        rows[app_id] = [row for version, _m, row in items if version == latest]
    return rows


def declared_for(
    app: Application, rows: Sequence[rules.DeclaredRow], settlement_amount: Decimal | None
) -> rules.Declared:
    return rules.Declared(
        total_compute_cost=app.total_compute_cost,
        compute_minutes=app.compute_minutes,
        work_minutes=app.work_minutes,
        launch_date=app.launch_date,
        rows=tuple(rows),
        settlement_amount=settlement_amount,
    )


def rows_after(declared: rules.Declared) -> int:
    end = rules.production_window(declared).end
    return 0 if end is None else sum(1 for r in declared.rows if r.ended_at > end)


def checkpoint_time(checkpoint: Checkpoint) -> dt.datetime:
    return checkpoint.created_at


def peer_values(as_of: dt.datetime) -> dict[int, Decimal]:
    """Cost per work-minute of every application submitted by ``as_of``, by application id."""
    values: dict[int, Decimal] = {}
    qs = Application.objects.filter(
        submitted_at__isnull=False,
        submitted_at__lte=as_of,
        total_compute_cost__gt=0,
        work_minutes__gt=0,
    ).values_list("pk", "total_compute_cost", "work_minutes")
    for pk, cost, minutes in qs.iterator(chunk_size=5000):
        assert cost is not None and minutes  # filtered above
        values[pk] = round_half_up(Decimal(cost) / minutes)
    return values


def peer_stats_for(
    app: Application, declared: rules.Declared, population: dict[int, Decimal]
) -> rules.PeerStats | None:
    """The distribution the application is scored in: the population, with the application itself."""
    values = dict(population)
    own = declared.cost_per_work_minute
    if own is not None:
        values[app.pk] = own
    else:
        values.pop(app.pk, None)
    return rules.peer_stats(list(values.values()))


def live_claims_of(
    record_ids: Sequence[str], *, besides: int | None = None
) -> Iterator[tuple[str, int, int, str, str]]:
    """(record id, application, enterprise, USCC, filing number) of each live application declaring one of these records.

    The one query behind "declared in another application", for one application (``besides`` its own) and set-wise.
    """
    rows = ConsumptionRow.objects.filter(record_id__in=record_ids, material__deleted=False)
    if besides is not None:
        rows = rows.exclude(application_id=besides)
    yield from (
        rows.exclude(application__status__in=LIVE_CLAIM_EXCLUDED)
        .values_list(
            "record_id",
            "application_id",
            "application__enterprise_id",
            "application__enterprise__uscc",
            "application__filing_number",
        )
        .distinct()
    )


# --- per application ------------------------------------------------------------------------------


def _record_id_conflicts(
    app: Application,
    keys: Sequence[Key],
    declared: rules.Declared,
    tree_size: int,
) -> list[rules.Conflict]:
    """Declared rows whose record is in another live application's detail or is another work's record."""
    ids = sorted({r.record_id for r in declared.rows})
    if not ids:
        return []
    conflicts: list[rules.Conflict] = []
    own_uscc = app.enterprise.uscc
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        for record_id, other_id, enterprise_id, uscc, filing in live_claims_of(chunk, besides=app.pk):
            if enterprise_id == app.enterprise_id and filing == app.filing_number:
                continue  # the same work of the same enterprise: a re-application, not a second claim
            conflicts.append(
                rules.Conflict(
                    "record_id", record_id, uscc, filing, other_id, enterprise_id != app.enterprise_id
                )
            )
        uuids = [u for u in (as_uuid(i) for i in chunk) if u is not None]
        if uuids:
            own = set(keys)
            found = list(
                UsageRecord.objects.filter(record_id__in=uuids, leaf_index__lt=tree_size).values_list(
                    "leaf_index", "record_id", "enterprise_uscc", "work_ref"
                )
            )
            good = matching_leaves(leaf for leaf, *_rest in found)
            for leaf, monitored_id, uscc, ref in found:
                if leaf in good and (uscc, ref) not in own:
                    conflicts.append(
                        rules.Conflict("record_id", str(monitored_id), uscc, ref, None, uscc != own_uscc)
                    )
    return conflicts


def as_uuid(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None


def _gpu_conflicts(keys: Sequence[Key], tree_size: int, own_uscc: str) -> list[rules.Conflict]:
    """Monitored records of this work overlapping, on the same GPU, records of another work."""
    if not keys:
        return []
    table = UsageRecord._meta.db_table
    mine = " OR ".join(["(m.enterprise_uscc = %s AND m.work_ref = %s)"] * len(keys))
    theirs = " OR ".join(["(o.enterprise_uscc = %s AND o.work_ref = %s)"] * len(keys))
    flat = [v for key in keys for v in key]
    sql = (
        f"SELECT m.leaf_index, o.leaf_index, m.gpu_uuid, o.enterprise_uscc, o.work_ref FROM {table} m "  # noqa: S608 - table name from the model, values are parameters
        f"JOIN {table} o ON o.gpu_uuid = m.gpu_uuid AND o.id <> m.id "
        "AND o.started_at < m.ended_at AND o.ended_at > m.started_at "
        f"WHERE m.leaf_index < %s AND o.leaf_index < %s AND ({mine}) AND NOT ({theirs})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [tree_size, tree_size, *flat, *flat])
        found = cursor.fetchall()
    # Only rows that match their log entry count, on either side of an overlap.
    good = matching_leaves(leaf for row in found for leaf in row[:2])
    pairs = sorted(
        {(gpu, uscc, ref) for mine, other, gpu, uscc, ref in found if mine in good and other in good}
    )
    return [rules.Conflict("gpu_time", gpu, uscc, ref, None, uscc != own_uscc) for gpu, uscc, ref in pairs]


def application_ids(wanted: set[Key]) -> dict[Key, int]:
    """The live application behind each (USCC, work reference), where there is one (lowest id first)."""
    if not wanted:
        return {}
    refs = {ref for _u, ref in wanted}
    found: dict[Key, int] = {}
    numeric = [int(r) for r in refs if r.isdigit()]
    qs = (
        Application.objects.exclude(status__in=LIVE_CLAIM_EXCLUDED)
        .filter(Q(filing_number__in=refs) | Q(reference__in=refs) | Q(pk__in=numeric))
        .values_list("pk", "enterprise__uscc", "filing_number", "reference")
        .order_by("pk")
    )
    for pk, uscc, filing, reference in qs.iterator(2000):
        for ref in (filing, reference or "", str(pk)):
            if (uscc, ref) in wanted:
                found.setdefault((uscc, ref), pk)
    return found


def named(conflicts: list[rules.Conflict], ids: dict[Key, int]) -> list[rules.Conflict]:
    return [
        c
        if c.other_application_id is not None
        else rules.Conflict(
            c.kind,
            c.key,
            c.other_enterprise_uscc,
            c.other_work_ref,
            ids.get((c.other_enterprise_uscc, c.other_work_ref)),
            c.cross_enterprise,
        )
        for c in conflicts
    ]


def unnamed(conflicts: Iterable[rules.Conflict]) -> set[Key]:
    return {(c.other_enterprise_uscc, c.other_work_ref) for c in conflicts if c.other_application_id is None}


def monitored_records(keys: Sequence[Key], tree_size: int) -> list[rules.MonitoredRecord]:
    """The monitored records of these keys in the log up to ``tree_size``.

    Only rows that still match their log entry are read (``monitoring.integrity``, the
    check ``yingdu ledger verify`` makes): an edited row never counts as monitored usage.
    """
    if not keys:
        return []
    qs = (
        UsageRecord.objects.filter(key_filter(keys), leaf_index__lt=tree_size)
        .order_by("leaf_index")
        .values_list(
            "leaf_index", "record_id", "gpu_uuid", "started_at", "ended_at", "gpu_seconds", "cost_cny"
        )
    )
    found = list(qs.iterator(2000))
    good = matching_leaves(row[0] for row in found)
    return [
        rules.MonitoredRecord(str(r), g, s, e, secs, cost)
        for leaf, r, g, s, e, secs, cost in found
        if leaf in good
    ]


def inputs_for(
    app: Application,
    checkpoint: Checkpoint,
    *,
    settlement_amount: Decimal | None = None,
    population: dict[int, Decimal] | None = None,
) -> ReconcileInputs:
    """The reconciliation inputs of one application against ``checkpoint``."""
    tree_size = checkpoint.tree_size
    keys = application_keys(app)
    rows = current_rows([app.pk]).get(app.pk, [])
    declared = declared_for(app, rows, settlement_amount)
    window = rules.production_window(declared)
    monitored = rules.summarize(monitored_records(keys, tree_size), window)
    conflicts = _record_id_conflicts(app, keys, declared, tree_size)
    conflicts += _gpu_conflicts(keys, tree_size, app.enterprise.uscc)
    if population is None:
        population = peer_values(checkpoint_time(checkpoint))
    return ReconcileInputs(
        application_id=app.pk,
        keys=keys,
        declared=declared,
        monitored=monitored,
        conflicts=named(conflicts, application_ids(unnamed(conflicts))),
        peers=peer_stats_for(app, declared, population),
        declared_rows_after_window=rows_after(declared),
    )


def latest_runs() -> QuerySet[ReconciliationRun]:
    """The latest reconciliation run of every application that has one (one query)."""
    latest = (
        ReconciliationRun.objects.filter(application=OuterRef("pk"))
        .order_by("-run_at", "-id")
        .values("pk")[:1]
    )
    ids = Application.objects.annotate(latest=Subquery(latest)).filter(latest__isnull=False).values("latest")
    return ReconciliationRun.objects.filter(pk__in=Subquery(ids))


def latest_run(application: Application) -> ReconciliationRun | None:
    """The application's latest reconciliation run: for the review page's panel
    (:func:`audits.receivers.reconciliation_panel`)."""
    return ReconciliationRun.objects.filter(application=application).order_by("-run_at", "-id").first()
