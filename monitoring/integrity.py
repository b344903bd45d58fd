"""Usage rows against their log entries: what ``yingdu ledger verify`` and reconciliation check.

A usage row copies its fields from the log entry it was accepted as (the record's canonical
JSON). Decisions read the rows, so each row must still say what its entry says: the entry's
SHA-256, every copied field, the provider and node, and the enterprise the entry names.
The same entry's metadata (kind, enterprise, provider) must agree with its bytes.

Rows are read with plain SQL and converted here value by value, so a column holding
something its type cannot (text in a number column, a BLOB turned TEXT) is a problem
naming the row, never an exception.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from django.db import DatabaseError, connection, transaction
from django.utils.translation import gettext as _

from core.lib.planner import PARALLEL, planner
from enterprises.models import Enterprise
from ledger.unchanged import Verified, last_verified, written_since
from ledger.windows import EntryMeta, entries_where
from monitoring.column_values import (
    decimal_value,
    float_value,
    integer_value,
    moment_value,
    optional_int_value,
    text_value,
    uuid_value,
)
from monitoring.models import Node, UsageRecord
from monitoring.schemas import FIELD_LABELS, RecordError, UsageFields, parse_record
from monitoring.usage_sql import KIND, orphans_sql, suspects_sql

CHUNK = 900  # SQLite allows 999 parameters per statement


# Column, how it is read, and the field of the entry it copies (None: compared separately).
_COLUMNS: tuple[tuple[str, Callable[[Any], Any], str | None], ...] = (
    ("record_id", uuid_value, "record_id"),
    ("entry_sha256", text_value, None),
    ("provider_id", optional_int_value, None),
    ("node_id", optional_int_value, None),
    ("enterprise_id", optional_int_value, None),
    ("node_name", text_value, "node_id"),
    ("enterprise_uscc", text_value, "enterprise_uscc"),
    ("work_ref", text_value, "work_ref"),
    ("job_id", text_value, "job_id"),
    ("scenario", text_value, "scenario"),
    ("gpu_model", text_value, "gpu_model"),
    ("gpu_uuid", text_value, "gpu_uuid"),
    ("gpu_count", integer_value, "gpu_count"),
    ("started_at", moment_value, "started_at"),
    ("ended_at", moment_value, "ended_at"),
    ("gpu_seconds", float_value, "gpu_seconds"),
    ("avg_util_pct", float_value, "avg_util_pct"),
    ("max_mem_mib", integer_value, "max_mem_mib"),
    ("energy_wh", float_value, "energy_wh"),
    ("cost_cny", decimal_value, "cost_cny"),
    ("signature", text_value, "signature"),
)
_SELECT = "id, leaf_index, " + ", ".join(name for name, _r, _f in _COLUMNS)
_READERS = tuple(read for _n, read, _f in _COLUMNS)
_COPIED = tuple(field for _n, _r, field in _COLUMNS if field is not None)
_LABELS = {
    "entry_sha256": "条目SHA-256(entry_sha256)",
    "provider_id": "算力提供方(provider)",
    "node_id": "节点(node)",
    "enterprise_id": "企业(enterprise)",
    "node_name": FIELD_LABELS["node_id"],
}


class UsageRow(NamedTuple):
    """One usage row as stored: its id, leaf index and raw column values by name (a tuple: a
    million of them are made in a few seconds)."""

    pk: Any
    leaf_index: Any
    raw: tuple[Any, ...]  # in the order of _COLUMNS

    @property
    def values(self) -> dict[str, Any]:
        return dict(zip((name for name, _r, _f in _COLUMNS), self.raw, strict=True))


def _native_timestamps(cursor: Any) -> None:
    """On PostgreSQL, psycopg's own (compiled) loader for ``timestamptz`` on this cursor.

    Django's loader, written in Python, costs more than the rest of a row's check; psycopg's
    gives the same aware datetimes in the connection's time zone (UTC).
    """
    if connection.vendor != "postgresql":
        return
    import psycopg
    from psycopg.pq import Format

    oid = psycopg.adapters.types["timestamptz"].oid
    cursor.cursor.adapters.register_loader(oid, psycopg.adapters.get_loader(oid, Format.TEXT))


def usage_rows_where(sql_where: str, params: Sequence[Any]) -> list[UsageRow]:
    with connection.cursor() as cursor:
        _native_timestamps(cursor)
        cursor.execute(
            f"SELECT {_SELECT} FROM monitoring_usagerecord WHERE {sql_where} ORDER BY leaf_index",  # noqa: S608 - fixed column list, values are parameters
            list(params),
        )
        found = cursor.fetchall()
    return [UsageRow(r[0], r[1], r[2:]) for r in found]


def parse_entry(data: bytes) -> UsageFields | None:
    """The usage record an entry holds, read with the ingestion's own checks; ``None`` if it is none."""
    try:
        record = json.loads(data)
        return parse_record(record, require_signature=False)
    except (ValueError, RecordError, RecursionError):
        return None


def looks_like_usage_entry(data: bytes) -> bool:
    # RFC 8785 sorts the keys: every usage record starts with its avg_util_pct.
    return data.startswith(b'{"avg_util_pct":') and parse_entry(data) is not None


class Lookups:
    """Nodes and enterprises, read once per verification or reconciliation."""

    def __init__(self) -> None:
        self.nodes = {
            pk: (name, provider)
            for pk, name, provider in Node.objects.values_list("pk", "node_id", "provider_id")
        }
        self.node_by_name = {name: (pk, provider) for pk, (name, provider) in self.nodes.items()}
        self.enterprise_of_uscc = dict(Enterprise.objects.values_list("uscc", "pk"))


def _row_label(row: UsageRow) -> str:
    return _("算力使用记录 #%(id)s") % {"id": row.pk}


def row_problems(row: UsageRow, entry: EntryMeta | None, lookups: Lookups) -> list[str]:
    """What is wrong with ``row`` against its ``entry`` (and the entry against its bytes); [] if nothing."""
    if entry is None:
        return [
            _("%(row)s指向的第 %(index)s 条日志缺失或不是使用记录")
            % {"row": _row_label(row), "index": row.leaf_index}
        ]
    if agrees_fast(row, entry, lookups):
        return []
    return full_row_problems(row, entry, lookups)


def full_row_problems(row: UsageRow, entry: EntryMeta, lookups: Lookups) -> list[str]:
    """:func:`row_problems` without its fast path: the entry parsed with the ingestion's checks."""
    fields = parse_entry(entry.data)
    if fields is None:
        return [_("第 %(index)s 条不是有效的算力使用记录") % {"index": entry.leaf}]
    if _agrees(row, entry, fields, lookups):
        return []
    label = _row_label(row)
    problems: list[str] = []
    values: dict[str, Any] = {}
    for name, read, _field in _COLUMNS:
        try:
            values[name] = read(row.values[name])
        except (ValueError, TypeError, ArithmeticError, InvalidOperation):
            problems.append(
                _("%(row)s的%(field)s无法读取（字段内容或类型被改动）")
                % {"row": label, "field": _LABELS.get(name, FIELD_LABELS.get(name, name))}
            )
    expected: dict[str, Any] = {
        name: getattr(fields, field) for name, _r, field in _COLUMNS if field is not None
    }
    expected["entry_sha256"] = hashlib.sha256(entry.data).hexdigest()
    expected["provider_id"] = entry.provider_id
    expected["enterprise_id"] = entry.enterprise_id
    for name, want in expected.items():
        if name in values and values[name] != want:
            problems.append(
                _("%(row)s的%(field)s与第 %(index)s 条日志不一致")
                % {
                    "row": label,
                    "field": _LABELS.get(name, FIELD_LABELS.get(name, name)),
                    "index": entry.leaf,
                }
            )
    node_pk = values.get("node_id")
    if node_pk is not None:
        node = lookups.nodes.get(node_pk)
        if node is None or node[0] != fields.node_id or node[1] != entry.provider_id:
            problems.append(
                _("%(row)s的节点与第 %(index)s 条日志中的节点“%(node)s”不符")
                % {"row": label, "index": entry.leaf, "node": fields.node_id}
            )
    problems.extend(entry_problems(entry, fields, lookups))
    return problems


def agrees_fast(row: UsageRow, entry: EntryMeta, lookups: Lookups) -> bool:
    """The common case at a few microseconds a row: the row's digest and columns equal its entry's.

    The entry is decoded with ``json`` alone, not re-validated: its bytes passed
    ``parse_record`` when they were logged, and verification checks that they are unchanged
    since. Each column is compared with the entry's value normalised as ``parse_record``
    normalises it, and only columns of the exact type the database gives for an undamaged
    row are accepted; anything else (a type changed, a value written differently) answers
    False and the full check (:func:`row_problems`) decides and names the problem.
    """
    raw = row.raw
    if raw[1] != hashlib.sha256(entry.data).hexdigest():
        return False
    try:
        record = json.loads(entry.data)
        (
            record_id, _sha, provider_id, node_pk, enterprise_id, node_name, uscc, work_ref, job_id,
            scenario, gpu_model, gpu_uuid, gpu_count, started_at, ended_at, gpu_seconds, avg_util_pct,
            max_mem_mib, energy_wh, cost_cny, signature,
        ) = raw  # fmt: skip
        node_id = record["node_id"].strip()
        entry_uscc = record["enterprise_uscc"].strip().upper()
        if not (
            (record_id.hex if type(record_id) is uuid.UUID else record_id)
            == record["record_id"].replace("-", "")
            and (provider_id is None or type(provider_id) is int)
            and (enterprise_id is None or type(enterprise_id) is int)
            and provider_id == entry.provider_id
            and enterprise_id == entry.enterprise_id
            and node_name == node_id
            and uscc == entry_uscc
            and work_ref == record["work_ref"].strip()
            and job_id == record["job_id"].strip()
            and scenario == record["scenario"]
            and gpu_model == record["gpu_model"].strip()
            and gpu_uuid == record["gpu_uuid"].strip()
            and signature == record.get("signature", "")
            and type(gpu_count) is int
            and gpu_count == record["gpu_count"]
            and type(max_mem_mib) is int
            and max_mem_mib == record["max_mem_mib"]
            and type(gpu_seconds) is float
            and gpu_seconds == float(record["gpu_seconds"])
            and type(avg_util_pct) is float
            and avg_util_pct == float(record["avg_util_pct"])
            and type(energy_wh) is float
            and energy_wh == float(record["energy_wh"])
            and type(started_at) is dt.datetime
            and type(ended_at) is dt.datetime
            and moment_value(started_at) == dt.datetime.fromisoformat(record["started_at"])
            and moment_value(ended_at) == dt.datetime.fromisoformat(record["ended_at"])
            and (type(cost_cny) is float or type(cost_cny) is Decimal)
            and decimal_value(cost_cny) == Decimal(record["cost_cny"])
        ):
            return False
    except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError, RecursionError):
        return False
    if node_pk is not None and (
        type(node_pk) is not int or lookups.nodes.get(node_pk) != (node_id, entry.provider_id)
    ):
        return False
    if entry.enterprise_id is not None and entry.enterprise_id != lookups.enterprise_of_uscc.get(entry_uscc):
        return False
    node = lookups.node_by_name.get(node_id)
    return node is None or entry.provider_id == node[1]


def _agrees(row: UsageRow, entry: EntryMeta, fields: UsageFields, lookups: Lookups) -> bool:
    """The common case, without building messages: every column equals what the entry says."""
    try:
        got = [read(value) for read, value in zip(_READERS, row.raw, strict=True)]
    except (ValueError, TypeError, ArithmeticError, InvalidOperation):
        return False
    record_id, sha, provider_id, node_pk, enterprise_id, *copied = got
    if (
        record_id != fields.record_id
        or provider_id != entry.provider_id
        or enterprise_id != entry.enterprise_id
        or copied != [getattr(fields, name) for name in _COPIED[1:]]
        or sha != hashlib.sha256(entry.data).hexdigest()
    ):
        return False
    if node_pk is not None and lookups.nodes.get(node_pk) != (fields.node_id, entry.provider_id):
        return False
    return not entry_problems(entry, fields, lookups)


def entry_problems(entry: EntryMeta, fields: UsageFields, lookups: Lookups) -> list[str]:
    """The entry's enterprise and provider against the record its bytes hold."""
    problems = []
    if entry.enterprise_id is not None and entry.enterprise_id != lookups.enterprise_of_uscc.get(
        fields.enterprise_uscc
    ):
        problems.append(
            _("第 %(index)s 条的相关企业与其内容中的统一社会信用代码不符") % {"index": entry.leaf}
        )
    node = lookups.node_by_name.get(fields.node_id)
    if node is not None and entry.provider_id != node[1]:
        problems.append(
            _("第 %(index)s 条的相关算力提供方与其内容中的节点“%(node)s”不符")
            % {"index": entry.leaf, "node": fields.node_id}
        )
    return problems


# --- Set-wise: the database compares rows with entries and names the rows that may differ ----
# (the queries and the premise they rest on: ``monitoring.usage_sql``). SQLite keeps the
# row-by-row path.

SETWISE = True  # tests switch it off to compare the two paths


def _leaves_in(chunk: Sequence[int]) -> str:
    """The condition ``leaf_index IN (…)`` with a placeholder for each leaf of ``chunk``."""
    return "leaf_index IN ({})".format(", ".join(["%s"] * len(chunk)))


class _Suspects(NamedTuple):
    """What the set-wise query left to the row-by-row check: rows that may differ (all rows when
    the query could not run), and usage entries with no row."""

    rows: list[UsageRow]
    orphans: set[int] | None  # None: unknown, the caller looks at every entry


def _suspects(sql_where: str, params: Sequence[Any]) -> _Suspects:
    """The rows of ``sql_where`` the database could not show to agree with their entries."""
    if not SETWISE or connection.vendor != "postgresql":
        return _Suspects(usage_rows_where(sql_where, params), None)
    try:
        with transaction.atomic(), connection.cursor() as cursor, planner(cursor, **PARALLEL):
            cursor.execute(suspects_sql(sql_where), [*params, *params, *params])
            leaves = sorted(index for (index,) in cursor.fetchall())
            cursor.execute(orphans_sql(sql_where), list(params))
            orphans = {index for (index,) in cursor.fetchall()}
    except DatabaseError:
        # A column of another type, bytes that are not JSON: the row-by-row check names it.
        return _Suspects(usage_rows_where(sql_where, params), None)
    rows: list[UsageRow] = []
    for start in range(0, len(leaves), CHUNK):
        chunk = leaves[start : start + CHUNK]
        rows += usage_rows_where(_leaves_in(chunk), chunk)
    return _Suspects(rows, orphans)


class UsageEntryCheck:
    """The ``ledger.verify`` check of usage entries and their rows (registered in ``MonitoringConfig.ready``)."""

    kind = KIND
    prefix = b'{"avg_util_pct":'

    def __init__(self) -> None:
        self._lookups: Lookups | None = None

    def fetch(self, start: int, end: int) -> tuple[Lookups, _Suspects]:
        if self._lookups is None or start == 0:
            self._lookups = Lookups()
        return self._lookups, _suspects("leaf_index >= %s AND leaf_index < %s", [start, end])

    def check(
        self, fetched: tuple[Lookups, _Suspects], entries: list[EntryMeta]
    ) -> Iterable[tuple[int | None, str]]:
        lookups, (rows, orphans) = fetched
        by_index = {e.leaf: e for e in entries}
        seen: set[int] = set()
        for row in rows:
            try:
                index = integer_value(row.leaf_index)
            except (ValueError, TypeError, ArithmeticError):
                yield None, _("%(row)s的日志叶序号无法读取") % {"row": _row_label(row)}
                continue
            if index in seen:
                yield (
                    index,
                    _("%(row)s与另一条记录指向同一条日志（第 %(index)s 条）")
                    % {
                        "row": _row_label(row),
                        "index": index,
                    },
                )
                continue
            seen.add(index)
            for message in row_problems(row, by_index.get(index), lookups):
                yield index, message
        for entry in entries:
            if entry.leaf in seen or (orphans is not None and entry.leaf not in orphans):
                continue
            yield entry.leaf, _("第 %(index)s 条算力使用记录的记录行缺失（被删除）") % {"index": entry.leaf}
            fields = parse_entry(entry.data)
            if fields is None:
                yield entry.leaf, _("第 %(index)s 条不是有效的算力使用记录") % {"index": entry.leaf}
            else:
                for message in entry_problems(entry, fields, lookups):
                    yield entry.leaf, message

    def beyond(self, size: int) -> Iterable[tuple[int | None, str]]:
        for row in usage_rows_where("leaf_index >= %s", [size])[:20]:
            yield (
                size,
                _("%(row)s指向超出日志大小的第 %(index)s 条")
                % {
                    "row": _row_label(row),
                    "index": row.leaf_index,
                },
            )

    def claims(self, data: bytes) -> bool:
        return looks_like_usage_entry(data)

    def recheck(self, size: int, verified: Verified) -> Iterable[tuple[int | None, str]]:
        lookups = Lookups()
        for where, params in _parts(rows_to_check(size, verified), size, 1 << 16):
            entries = usage_entries(where, params)
            yield from self.check((lookups, _suspects(where, params)), [entries[leaf] for leaf in sorted(entries)])


def usage_entries(sql_where: str, params: Sequence[Any]) -> dict[int, EntryMeta]:
    """The usage entries of a range of the log by leaf index (entries not held as bytes left out)."""
    return entries_where(KIND, sql_where, params)


def _matches(row: UsageRow, entries: dict[int, EntryMeta], lookups: Lookups) -> bool:
    entry = entries.get(row.leaf_index) if type(row.leaf_index) is int else None
    return entry is not None and not row_problems(row, entry, lookups)


def matching_leaves(leaf_indexes: Iterable[int]) -> set[int]:
    """Of these usage rows (by leaf index), those that match their log entry: what reconciliation may read."""
    wanted = sorted(set(leaf_indexes))
    if not wanted:
        return set()
    lookups = Lookups()
    good: set[int] = set()
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        where = _leaves_in(chunk)
        suspects = _suspects(where, chunk)
        if suspects.orphans is None:
            present = {row.leaf_index for row in suspects.rows}
        else:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT leaf_index FROM monitoring_usagerecord WHERE {where}", chunk)  # noqa: S608 - placeholders only
                present = {index for (index,) in cursor.fetchall()}
        entries = usage_entries(where, chunk)
        good.update(
            present - {row.leaf_index for row in suspects.rows if not _matches(row, entries, lookups)}
        )
    return good


def refused_rows(tree_size: int, window: int = 1 << 16) -> dict[int, tuple[Any, Any]]:
    """Every usage row in the log up to ``tree_size`` that does not match its entry (the check
    :func:`matching_leaves` makes), by leaf index, with the (USCC, work) it now carries.

    For set-wise reconciliation, which adds rows up in SQL: these are the rows it must not
    count. After a full verification on PostgreSQL only the rows it could not vouch for are
    checked (:func:`rows_to_check`); otherwise one pass over every row and entry, a window of
    the log at a time.
    """
    lookups = Lookups()
    refused: dict[int, tuple[Any, Any]] = {}
    verified = last_verified() if SETWISE else None
    leaves = rows_to_check(tree_size, verified) if verified is not None else None
    for where, params in _parts(leaves, tree_size, window):
        refused.update(_refused_of(_suspects(where, params).rows, lookups))
    return refused


def _parts(leaves: list[int] | None, tree_size: int, window: int) -> Iterator[tuple[str, list[Any]]]:
    """Conditions on ``leaf_index`` that together select ``leaves`` (every leaf below ``tree_size``
    when ``None``): lists of leaves when they are few, else the windows of the log that hold them
    (lists are read a few hundred leaves at a time)."""
    if leaves is not None and len(leaves) <= window // 16:
        for start in range(0, len(leaves), CHUNK):
            chunk = leaves[start : start + CHUNK]
            yield _leaves_in(chunk), chunk
        return
    starts = range(0, tree_size, window) if leaves is None else sorted({leaf // window * window for leaf in leaves})
    for start in starts:
        yield "leaf_index >= %s AND leaf_index < %s", [start, min(start + window, tree_size)]


def _refused_of(rows: list[UsageRow], lookups: Lookups) -> dict[int, tuple[Any, Any]]:
    """Of rows the set-wise query could not show to agree, those that do not match their entry."""
    if not rows:
        return {}
    leaves = sorted({row.leaf_index for row in rows if type(row.leaf_index) is int})
    entries: dict[int, EntryMeta] = {}
    for lo in range(0, len(leaves), CHUNK):
        chunk = leaves[lo : lo + CHUNK]
        entries.update(usage_entries(_leaves_in(chunk), chunk))
    refused = {}
    for row in rows:
        if not _matches(row, entries, lookups):
            values = row.values
            refused[row.leaf_index] = (values["enterprise_uscc"], values["work_ref"])
    return refused


def rows_to_check(tree_size: int, verified: Verified) -> list[int]:
    """The leaves below ``tree_size`` whose usage rows a check after the ``verified`` run must read.

    The run checked every row written before its snapshot against its entry
    (``ledger.unchanged``); entries never change (the log's tables are append-only, and verify
    checks them). What can have changed since is: a row written after the snapshot (edited,
    added, put back), a row of an entry beyond the verified log, a row the run found wrong,
    and a row whose node or enterprise was written since (the check compares the row with
    them). One scan of the rows' stamps, which PostgreSQL may split among parallel workers (the
    few nodes and enterprises written since are read first, once, as arrays).
    """
    row_since, row_params = written_since("r", verified)
    enterprise_since, enterprise_params = written_since("x", verified)
    node_since, node_params = written_since("n", verified)
    sql = f"""
        SELECT r.leaf_index FROM {UsageRecord._meta.db_table} r
        WHERE r.leaf_index < %s AND (
            r.leaf_index >= %s OR {row_since}
            OR r.enterprise_id = ANY(ARRAY(SELECT x.id FROM {Enterprise._meta.db_table} x WHERE {enterprise_since}))
            OR r.node_id = ANY(ARRAY(SELECT n.id FROM {Node._meta.db_table} n WHERE {node_since}))
            OR r.node_name = ANY(ARRAY(SELECT n.node_id FROM {Node._meta.db_table} n WHERE {node_since})))
    """  # noqa: S608 - table names from the models, values are parameters
    params = [tree_size, verified.tree_size, *row_params, *enterprise_params, *node_params, *node_params]
    with transaction.atomic(), connection.cursor() as cursor, planner(cursor, **PARALLEL):
        cursor.execute(sql, params)
        found = {index for (index,) in cursor.fetchall()}
    return sorted(found | {index for index in verified.named if index < tree_size})
