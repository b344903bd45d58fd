"""Reconciliation inputs for many applications at once (the set-wise path of ``audits.queries``):
one aggregate query grouped by the (enterprise USCC, work reference) keys, one window query for
GPU time claimed twice, and a handful of small lookups — never one query per application."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Container, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Q

from applications.models import Application
from audits import rules
from audits.queries import (
    CHUNK,
    Key,
    ReconcileInputs,
    application_ids,
    application_keys,
    as_uuid,
    checkpoint_time,
    current_rows,
    declared_for,
    key_filter,
    live_claims_of,
    monitored_records,
    named,
    peer_stats_for,
    peer_values,
    rows_after,
    unnamed,
)
from core.lib.money import round_half_up
from core.lib.planner import PARALLEL, planner
from ledger.models import Checkpoint
from monitoring.integrity import refused_rows
from monitoring.models import UsageRecord


def _cents(value: Any) -> Decimal:
    # SQLite stores decimals with REAL affinity and sums them as floats: back to cents.
    if value is None:
        return Decimal("0.00")
    return round_half_up(Decimal(repr(value)) if isinstance(value, float) else Decimal(value))


def _parse_dt(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    # SQLite returns aggregates of datetime columns as text (UTC).
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class _Group:
    usage: rules.Usage
    first: dt.datetime | None
    last: dt.datetime | None


def group_totals(tree_size: int) -> dict[Key, _Group]:
    """Every (USCC, work) in the log up to ``tree_size``, added up: one aggregate query, no join.

    Grouping the records by the keys they carry needs one scan of the table (parallel on
    PostgreSQL); the few thousand groups are then matched to applications in Python.
    """
    table = UsageRecord._meta.db_table
    sql = (
        "SELECT enterprise_uscc, work_ref, COUNT(*), SUM(CAST(ROUND(gpu_seconds * 1000) AS BIGINT)),"  # noqa: S608 - the model's table name
        f" SUM(cost_cny), MIN(started_at), MAX(ended_at) FROM {table} WHERE leaf_index < %s"
        " GROUP BY enterprise_uscc, work_ref"
    )
    out: dict[Key, _Group] = {}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The planner guesses a group per (USCC × work) combination, a million, and would sort
            # ten million rows to group them; there are a few thousand groups, and a parallel hash
            # aggregate is three times faster. The hash table of that guess needs the memory; the
            # parallel costs are lowered so that the workers are used whatever the guess.
            with planner(cursor, work_mem="128MB", enable_sort="off", **PARALLEL):
                cursor.execute(sql, [tree_size])
                found = cursor.fetchall()
        else:
            cursor.execute(sql, [tree_size])
            found = cursor.fetchall()
        for uscc, ref, n, ms, cost, first, last in found:
            out[(uscc, ref)] = _Group(
                rules.Usage(int(n), int(ms or 0), _cents(cost)), _parse_dt(first), _parse_dt(last)
            )
    return out


def _aggregate(
    keys: dict[int, list[Key]],
    windows: dict[int, rules.Window],
    tree_size: int,
    refused_keys: set[Any] | None = None,
) -> dict[int, rules.MonitoredSummary]:
    """Each application's monitored usage, with the parts outside its production window.

    Totals come from :func:`group_totals`. Only an application whose first or last record
    falls outside its window needs those records counted, with one indexed query of its own
    (few applications: most usage is inside the window). An application one of whose works
    holds a row that fails the log check (``refused_keys``) is read as the per-application
    path reads it (:func:`monitored_records`), without that row.
    """
    groups = group_totals(tree_size)
    out: dict[int, rules.MonitoredSummary] = {}
    for app_id, app_keys in keys.items():
        if refused_keys and refused_keys.intersection(app_keys):
            out[app_id] = rules.summarize(monitored_records(app_keys, tree_size), windows[app_id])
            continue
        found = [groups[k] for k in app_keys if k in groups]
        if not found:
            continue
        total = sum((g.usage for g in found), rules.Usage())
        first = min((g.first for g in found if g.first is not None), default=None)
        last = max((g.last for g in found if g.last is not None), default=None)
        window = windows[app_id]
        outside = (window.start is not None and first is not None and first < window.start) or (
            window.end is not None and last is not None and last > window.end
        )
        if outside:
            edge = Q(pk__in=[])
            if window.start is not None:
                edge |= Q(started_at__lt=window.start)
            if window.end is not None:
                edge |= Q(ended_at__gt=window.end)
            records = (
                UsageRecord.objects.filter(key_filter(app_keys), edge, leaf_index__lt=tree_size)
                .order_by("leaf_index")
                .values_list("record_id", "gpu_uuid", "started_at", "ended_at", "gpu_seconds", "cost_cny")
            )
            part = rules.summarize(
                (rules.MonitoredRecord(str(r), g, s, e, x, c) for r, g, s, e, x, c in records), window
            )
            out[app_id] = rules.MonitoredSummary(total, part.before_window, part.after_window, first, last)
        else:
            out[app_id] = rules.MonitoredSummary(total, rules.Usage(), rules.Usage(), first, last)
    return out


def _overlap_pairs(tree_size: int, refused: Container[int] = ()) -> list[tuple[str, Key, Key]]:
    """Every pair of monitored records on one GPU whose times overlap, as (gpu, key, other key), both ways.

    One pass over the GPU-time index (gpu, start, end) — an index-only scan, no sort — finds the
    records that start before an earlier record on the same GPU has ended; only those few are
    then joined pairwise, both sides restricted to the checkpoint. The pass itself reads records
    beyond the checkpoint too (the index does not hold the leaf index): a pair of records both
    within the checkpoint always leaves its later record as a candidate, and the pairwise query
    drops pairs with a record beyond it. Records starting at the same instant overlap whichever
    comes first, so the order among ties does not change the pairs found. Pairs with a
    ``refused`` record (one that fails the log check) are left out.
    """
    table = UsageRecord._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT gpu_uuid, started_at, ended_at FROM (SELECT gpu_uuid, started_at, ended_at,"  # noqa: S608 - table name from the model
            " MAX(ended_at) OVER (PARTITION BY gpu_uuid ORDER BY started_at, ended_at"
            f" ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end FROM {table}) s"
            " WHERE prev_end > started_at"
        )
        candidates = sorted(set(cursor.fetchall()))
        pairs: list[tuple[str, Key, Key]] = []
        for start in range(0, len(candidates), CHUNK // 3):
            chunk = candidates[start : start + CHUNK // 3]
            match = " OR ".join(["(m.gpu_uuid = %s AND m.started_at = %s AND m.ended_at = %s)"] * len(chunk))
            cursor.execute(
                "SELECT m.gpu_uuid, m.enterprise_uscc, m.work_ref, o.enterprise_uscc, o.work_ref,"  # noqa: S608
                f" m.leaf_index, o.leaf_index FROM {table} m "
                f"JOIN {table} o ON o.gpu_uuid = m.gpu_uuid AND o.id <> m.id "
                "AND o.started_at < m.ended_at AND o.ended_at > m.started_at "
                f"WHERE ({match}) AND m.leaf_index < %s AND o.leaf_index < %s",
                [*(v for c in chunk for v in c), tree_size, tree_size],
            )
            for gpu, mu, mr, ou, orf, m_leaf, o_leaf in cursor.fetchall():
                if (mu, mr) != (ou, orf) and m_leaf not in refused and o_leaf not in refused:
                    pairs.append((gpu, (mu, mr), (ou, orf)))
                    pairs.append((gpu, (ou, orf), (mu, mr)))
    return pairs


def inputs_for_many(
    apps: Sequence[Application],
    checkpoint: Checkpoint,
    *,
    settlement_amounts: dict[int, Decimal] | None = None,
) -> list[ReconcileInputs]:
    """The reconciliation inputs of many applications, read set-wise (see the module docstring).

    ``apps`` must have ``enterprise`` selected. Gives the same inputs as :func:`inputs_for`
    called on each application.
    """
    tree_size = checkpoint.tree_size
    settlement_amounts = settlement_amounts or {}
    app_ids = [a.pk for a in apps]
    rows = current_rows(app_ids)
    keys = {a.pk: application_keys(a) for a in apps}
    declared = {a.pk: declared_for(a, rows.get(a.pk, []), settlement_amounts.get(a.pk)) for a in apps}
    windows = {pk: rules.production_window(d) for pk, d in declared.items()}
    refused = refused_rows(tree_size)
    monitored = _aggregate(keys, windows, tree_size, set(refused.values()))

    # Double claims of a record: in Python over the rows of every live application.
    conflicts: dict[int, list[rules.Conflict]] = defaultdict(list)
    by_id = {a.pk: a for a in apps}
    wanted = sorted({r.record_id for app_rows in rows.values() for r in app_rows})
    holders: dict[str, set[tuple[int, int, str, str]]] = defaultdict(set)
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        for record_id, other_id, enterprise_id, uscc, filing in live_claims_of(chunk):
            holders[record_id].add((other_id, enterprise_id, uscc, filing))
    owners_of_key: dict[Key, list[int]] = defaultdict(list)
    for pk, app_keys in keys.items():
        for key in app_keys:
            owners_of_key[key].append(pk)
    monitored_owner: dict[str, Key] = {}
    uuids = [u for u in (as_uuid(i) for i in wanted) if u is not None]
    for start in range(0, len(uuids), CHUNK):
        for monitored_id, uscc, ref, leaf in UsageRecord.objects.filter(
            record_id__in=uuids[start : start + CHUNK], leaf_index__lt=tree_size
        ).values_list("record_id", "enterprise_uscc", "work_ref", "leaf_index"):
            if leaf not in refused:
                monitored_owner[str(monitored_id)] = (uscc, ref)
    for pk, app_rows in rows.items():
        app = by_id[pk]
        own_keys = set(keys[pk])
        for record_id in sorted({r.record_id for r in app_rows}):
            for other_id, enterprise_id, uscc, filing in sorted(holders.get(record_id, ())):
                if other_id == pk or (enterprise_id == app.enterprise_id and filing == app.filing_number):
                    continue
                conflicts[pk].append(
                    rules.Conflict(
                        "record_id", record_id, uscc, filing, other_id, enterprise_id != app.enterprise_id
                    )
                )
            row_uuid = as_uuid(record_id)
            owner = monitored_owner.get(str(row_uuid)) if row_uuid is not None else None
            if owner is not None and owner not in own_keys:
                conflicts[pk].append(
                    rules.Conflict(
                        "record_id", str(row_uuid), owner[0], owner[1], None, owner[0] != app.enterprise.uscc
                    )
                )

    # Double claims of GPU time: one window pass over the log's records.
    for gpu, key, other in _overlap_pairs(tree_size, refused):
        for pk in owners_of_key.get(key, ()):
            if other not in keys[pk]:
                conflicts[pk].append(
                    rules.Conflict(
                        "gpu_time", gpu, other[0], other[1], None, other[0] != by_id[pk].enterprise.uscc
                    )
                )

    ids = application_ids(unnamed(c for found in conflicts.values() for c in found))
    population = peer_values(checkpoint_time(checkpoint))
    base = rules.peer_stats(list(population.values()))
    out = []
    for app in apps:
        d = declared[app.pk]
        own = d.cost_per_work_minute
        # The shared distribution already holds the application unless it was submitted after the checkpoint.
        peers = (
            base if own is not None and population.get(app.pk) == own else peer_stats_for(app, d, population)
        )
        out.append(
            ReconcileInputs(
                application_id=app.pk,
                keys=keys[app.pk],
                declared=d,
                monitored=monitored.get(app.pk, rules.MonitoredSummary()),
                conflicts=named(sorted(set(conflicts.get(app.pk, [])), key=rules.Conflict.sort_key), ids),
                peers=peers,
                declared_rows_after_window=rows_after(d),
            )
        )
    return out
