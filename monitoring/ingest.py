"""Usage ingestion (docs/monitoring.md): ``record_usage_batch`` is the one way usage enters the
platform, whether from the agent's API batches or from CSV / Slurm uploads. It accepts the good
records of a batch and rejects the others with a reason; every accepted record is appended to the
tamper-evident log in the same transaction as its row, so the answer's leaf indexes and checkpoint
already cover it."""

from __future__ import annotations

import base64
import bisect
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.db import connection
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from agent.signing import canonical_pair, canonical_record, load_public_key
from core.copy import copy_rows
from core.lib.text import safe_text
from core.transactions import durable
from enterprises.models import Enterprise, Provider
from ledger.actions import append_entries, record_event, sign_checkpoint
from monitoring.models import Node, RejectedRecord, UsageBatch, UsageRecord
from monitoring.schemas import RecordError, UsageFields, parse_record, storable

LEDGER_KIND = "usage_record"
GPU_LOCK_CLASS = 8  # first key of the two-key advisory locks taken per GPU during ingestion


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


@dataclass
class RecordResult:
    record_id: str
    status: str  # accepted | duplicate | rejected
    reason: str | None = None
    code: str | None = None
    leaf_index: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"record_id": self.record_id, "status": self.status}
        if self.reason is not None:
            out["reason"] = self.reason
            out["code"] = self.code
        if self.leaf_index is not None:
            out["leaf_index"] = self.leaf_index
        return out


@dataclass
class BatchResult:
    batch: UsageBatch
    results: list[RecordResult]
    checkpoint: str

    def as_dict(self) -> dict[str, Any]:
        return {"results": [r.as_dict() for r in self.results], "checkpoint": self.checkpoint}

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)


@dataclass
class _Candidate:
    """A record on its way through the checks."""

    position: int
    raw: Any
    record_id: str
    fields: UsageFields | None = None
    entry: bytes = b""
    entry_sha256: str = ""
    node: Node | None = None
    signed: bool = False
    result: RecordResult | None = None
    first: _Candidate | None = None  # earlier record of the batch with the same record_id

    def reject(self, error: RecordError) -> None:
        self.result = RecordResult(self.record_id, "rejected", error.reason, error.code)


@dataclass
class _Intervals:
    """Time intervals of one GPU: stored ones (a sorted static list) plus the batch's accepted ones."""

    starts: list[datetime] = field(default_factory=list)
    max_ends: list[datetime] = field(default_factory=list)  # running maximum of ends, by start
    batch_starts: list[datetime] = field(default_factory=list)
    batch_ends: list[datetime] = field(default_factory=list)

    def set_stored(self, intervals: Iterable[tuple[datetime, datetime]]) -> None:
        running: datetime | None = None
        for start, end in sorted(intervals):
            running = end if running is None or end > running else running
            self.starts.append(start)
            self.max_ends.append(running)

    def overlaps_stored(self, start: datetime, end: datetime) -> bool:
        i = bisect.bisect_left(self.starts, end)
        return i > 0 and self.max_ends[i - 1] > start

    def overlaps_batch(self, start: datetime, end: datetime) -> bool:
        # Accepted batch intervals never overlap each other, so only the neighbour can.
        i = bisect.bisect_left(self.batch_starts, end)
        return i > 0 and self.batch_ends[i - 1] > start

    def add(self, start: datetime, end: datetime) -> None:
        i = bisect.bisect_left(self.batch_starts, start)
        self.batch_starts.insert(i, start)
        self.batch_ends.insert(i, end)


_public_keys: dict[str, Ed25519PublicKey] = {}


def cached_public_key(b64: str) -> Ed25519PublicKey:
    key = _public_keys.get(b64)
    if key is None:
        key = load_public_key(b64)
        if len(_public_keys) > 10_000:
            _public_keys.clear()
        _public_keys[b64] = key
    return key


def _plain(value: float) -> str:
    """A number as people write it: 1500 rather than 1500.0."""
    rounded = round(value, 3)
    return str(int(rounded)) if rounded == int(rounded) else str(rounded)


def _check_times(c: _Candidate, limit: datetime, max_power_w: float) -> None:
    """Time order, no end after ``limit`` (now plus the allowed clock skew), GPU time and energy plausible."""
    f = c.fields
    assert f is not None
    duration = (f.ended_at - f.started_at).total_seconds()  # exact to the microsecond
    if duration <= 0:
        raise RecordError("time_order", _("结束时间须晚于开始时间"))
    if f.ended_at > limit:
        raise RecordError("future", _("结束时间晚于平台当前时间"))
    if f.gpu_seconds > duration * f.gpu_count + 1:
        raise RecordError(
            "gpu_seconds",
            _("GPU时长%(seconds)s秒超过时间段长度乘以GPU数量") % {"seconds": _plain(f.gpu_seconds)},
        )
    plausible = f.gpu_seconds / 3600 * max_power_w
    if f.energy_wh > plausible + 0.01:
        raise RecordError(
            "energy",
            _("能耗%(wh)s Wh超过该GPU时长在每卡%(w)s W下的上限%(max)s Wh")
            % {"wh": _plain(f.energy_wh), "w": _plain(max_power_w), "max": _plain(plausible)},
        )


def _lock_gpus(gpu_uuids: Sequence[str]) -> None:
    """Serialise concurrent batches that report the same GPUs, so their overlap checks see each other.

    PostgreSQL transaction-level advisory locks, taken in sorted order (no deadlock between
    two batches); SQLite serialises all writers already.
    """
    if connection.vendor != "postgresql" or not gpu_uuids:
        return
    with connection.cursor() as cursor:
        # One statement for all GPUs of the batch; should two batches still lock in
        # different orders, PostgreSQL's deadlock detector fails one and its agent resends.
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(%s, k)) FROM "
            "(SELECT DISTINCT hashtext(g) AS k FROM unnest(%s::text[]) AS g ORDER BY k) AS locks",
            [GPU_LOCK_CLASS, sorted(set(gpu_uuids))],
        )


def record_usage_batch(
    provider: Provider,
    records: Sequence[Any],
    *,
    actor_repr: str,
    source: str = UsageBatch.Source.API,
    actor: User | None = None,
    signed_upload: bool = False,
    file_sha256: str = "",
    lines: Sequence[int] | None = None,
    request: HttpRequest | None = None,
    now: datetime | None = None,
) -> BatchResult:
    """Check, log and store a batch of usage records; returns one result per record and a checkpoint.

    API records must carry a valid signature by a node of ``provider``. Uploaded records
    (``source`` csv/sacct) may instead be covered by a detached signature over the file
    (``signed_upload``); otherwise they are stored with ``signed=False`` for review.
    A resent record answers ``duplicate`` with its original leaf index and changes nothing.
    ``lines`` gives each record's line in the uploaded file, kept with its rejection.
    """
    now = now or timezone.now()
    max_power_w = _setting("MONITORING_MAX_GPU_POWER_W", 1000)
    latest_end = now + timedelta(seconds=_setting("MONITORING_CLOCK_SKEW_SECONDS", 300))
    require_signature = source == UsageBatch.Source.API
    candidates = [
        _Candidate(
            position=i,
            raw=raw,
            record_id=safe_text(str(raw.get("record_id", ""))[:64]) if isinstance(raw, dict) else "",
        )
        for i, raw in enumerate(records)
    ]

    # 1. Schema, node and signature: CPU only, outside the transaction.
    parsed: list[_Candidate] = []
    for c in candidates:
        try:
            c.fields = parse_record(c.raw, require_signature=require_signature)
        except RecordError as error:
            c.reject(error)
            continue
        c.record_id = str(c.fields.record_id)
        parsed.append(c)
    nodes = {
        n.node_id: n for n in Node.objects.filter(node_id__in={c.fields.node_id for c in parsed if c.fields})
    }
    first_by_id: dict[str, _Candidate] = {}
    checked: list[_Candidate] = []
    for c in parsed:
        f = c.fields
        assert f is not None
        if c.record_id in first_by_id:
            # A repeat answers as its first occurrence; the same id for other content is a
            # conflict, inside a batch as across batches.
            if _same_content(c.raw, first_by_id[c.record_id].raw):
                c.first = first_by_id[c.record_id]
            else:
                c.reject(_record_id_conflict())
            continue
        first_by_id[c.record_id] = c
        try:
            node = nodes.get(f.node_id)
            # Every record names a registered, active node of the provider, whichever way it came
            # (API, CSV or sacct file): usage of an unknown machine is never counted.
            if node is None:
                raise RecordError("unknown_node", _("节点“%(node)s”未登记") % {"node": f.node_id})
            if node.provider_id != provider.pk:
                raise RecordError("foreign_node", _("节点“%(node)s”不属于本算力提供方") % {"node": f.node_id})
            if not node.active:
                raise RecordError("inactive_node", _("节点“%(node)s”已停用") % {"node": f.node_id})
            if require_signature or f.signature:
                signature = base64.b64decode(f.signature, validate=True)
                signed_bytes, c.entry = canonical_pair(c.raw)
                try:
                    cached_public_key(node.public_key).verify(signature, signed_bytes)
                except InvalidSignature:
                    raise RecordError("bad_signature", _("签名无效")) from None
                c.signed = True
            else:
                c.signed = signed_upload
            c.node = node
            _check_times(c, latest_end, max_power_w)
        except RecordError as error:
            c.reject(error)
            continue
        except ValueError:  # base64 of the signature
            c.reject(RecordError("bad_signature", _("签名格式无效")))
            continue
        if not c.entry:
            c.entry = canonical_record(c.raw)
        c.entry_sha256 = hashlib.sha256(c.entry).hexdigest()
        checked.append(c)

    # 2. Idempotency, overlap and the log: one transaction, a fixed number of queries.
    with durable():
        _lock_gpus([c.fields.gpu_uuid for c in checked if c.fields])
        existing = _stored_entries(checked)
        fresh: list[_Candidate] = []
        for c in checked:
            if c.record_id in existing:
                leaf, sha = existing[c.record_id]
                if sha == c.entry_sha256:
                    c.result = RecordResult(c.record_id, "duplicate", leaf_index=leaf)
                else:
                    c.reject(_record_id_conflict())
            else:
                fresh.append(c)
        intervals = _stored_intervals(fresh)
        accepted: list[_Candidate] = []
        for c in fresh:
            f = c.fields
            assert f is not None
            gpu = intervals[f.gpu_uuid]
            if gpu.overlaps_stored(f.started_at, f.ended_at):
                c.reject(
                    RecordError("overlap", _("GPU %(gpu)s 在该时间段已有使用记录") % {"gpu": f.gpu_uuid})
                )
            elif gpu.overlaps_batch(f.started_at, f.ended_at):
                c.reject(
                    RecordError("overlap", _("GPU %(gpu)s 与本批次另一条记录时间重叠") % {"gpu": f.gpu_uuid})
                )
            else:
                gpu.add(f.started_at, f.ended_at)
                accepted.append(c)

        for c in candidates:
            if c.first is not None:
                _resolve_repeat(c)
        statuses = [c.result.status if c.result else "accepted" for c in candidates]
        batch = UsageBatch.objects.create(
            provider=provider,
            received_at=now,
            source=source,
            signed=all(c.signed for c in accepted) if accepted else require_signature or signed_upload,
            actor_repr=actor_repr[:150],
            file_sha256=file_sha256,
            total=len(candidates),
            accepted=statuses.count("accepted"),
            duplicate=statuses.count("duplicate"),
            rejected=statuses.count("rejected"),
        )
        if accepted:
            enterprises = dict(
                Enterprise.objects.filter(
                    uscc__in={c.fields.enterprise_uscc for c in accepted if c.fields}
                ).values_list("uscc", "id")
            )
            leaves = append_entries(
                [c.entry for c in accepted],
                kind=LEDGER_KIND,
                enterprise_id=[
                    enterprises.get(c.fields.enterprise_uscc) if c.fields else None for c in accepted
                ],
                provider_id=provider.pk,
            )
            for c, leaf in zip(accepted, leaves, strict=True):
                c.result = RecordResult(c.record_id, "accepted", leaf_index=leaf)
            _insert_records(accepted, batch, provider, enterprises, now)
            for c in candidates:  # repeats of an accepted record now know its leaf
                if c.first is not None and c.first.result is not None and c.first.result.status == "accepted":
                    c.result = RecordResult(c.record_id, "duplicate", leaf_index=c.first.result.leaf_index)
        rejected = [c for c in candidates if c.result is not None and c.result.status == "rejected"]
        RejectedRecord.objects.bulk_create(
            [
                RejectedRecord(
                    batch=batch,
                    record_id=c.record_id,
                    code=(c.result.code or "")[:32],
                    reason=safe_text(c.result.reason or "")[:300],
                    payload=storable(c.raw) if isinstance(c.raw, dict) else {"value": storable(c.raw)},
                    line=lines[c.position] if lines is not None else None,
                )
                for c in rejected
                if c.result is not None
            ],
            batch_size=1000,
        )
        record_event(
            "usage.batch_receive",
            actor=actor,
            obj=batch,
            after={
                "source": source,
                "total": batch.total,
                "accepted": batch.accepted,
                "duplicate": batch.duplicate,
                "rejected": batch.rejected,
            },
            actor_repr=actor_repr,
            request=request,
        )
    checkpoint = sign_checkpoint()
    UsageBatch.objects.filter(pk=batch.pk).update(checkpoint=checkpoint)
    batch.checkpoint = checkpoint
    results = [c.result for c in candidates if c.result is not None]
    assert len(results) == len(candidates)
    return BatchResult(batch=batch, results=results, checkpoint=checkpoint)


def _record_id_conflict() -> RecordError:
    return RecordError("record_id_conflict", _("记录编号已被另一条内容不同的记录使用"))


def _same_content(record: Any, other: Any) -> bool:
    """Whether two records carry the same content: their canonical log entries are equal."""
    try:
        return canonical_record(record) == canonical_record(other)
    except (TypeError, ValueError, OverflowError):
        return bool(record == other)


def _resolve_repeat(c: _Candidate) -> None:
    """A record_id repeated inside one batch gets the answer of its first occurrence."""
    first = c.first
    assert first is not None
    if first.result is None or first.result.status == "accepted":
        c.result = RecordResult(c.record_id, "duplicate")  # leaf filled in once the first is logged
    elif first.result.status == "duplicate":
        c.result = RecordResult(c.record_id, "duplicate", leaf_index=first.result.leaf_index)
    else:
        c.result = RecordResult(c.record_id, "rejected", first.result.reason, first.result.code)


def _stored_entries(checked: Sequence[_Candidate]) -> dict[str, tuple[int, str]]:
    """The leaf index and entry digest of every record of the batch already stored, by record id.

    On PostgreSQL the ids go as one array parameter: a thousand ``IN`` parameters cost more to
    send and plan than the lookup itself."""
    if not checked:
        return {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT record_id, leaf_index, entry_sha256 FROM {UsageRecord._meta.db_table} "  # noqa: S608 - the model's table
                "WHERE record_id = ANY(%s::uuid[])",
                [[c.fields.record_id for c in checked if c.fields is not None]],
            )
            rows: Iterable[tuple[Any, int, str]] = cursor.fetchall()
    else:
        rows = UsageRecord.objects.filter(record_id__in=[c.record_id for c in checked]).values_list(
            "record_id", "leaf_index", "entry_sha256"
        )
    return {str(rid): (leaf, sha) for rid, leaf, sha in rows}


def _stored_intervals(fresh: Sequence[_Candidate]) -> dict[str, _Intervals]:
    intervals: dict[str, _Intervals] = {}
    if not fresh:
        return intervals
    fields = [c.fields for c in fresh if c.fields is not None]
    gpus = {f.gpu_uuid for f in fields}
    stored: dict[str, list[tuple[datetime, datetime]]] = {gpu: [] for gpu in gpus}
    latest_start, earliest_end = max(f.ended_at for f in fields), min(f.started_at for f in fields)
    query: Iterable[tuple[str, datetime, datetime]]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # The GPUs as one array parameter, as for the record ids.
            cursor.execute(
                f"SELECT gpu_uuid, started_at, ended_at FROM {UsageRecord._meta.db_table} "  # noqa: S608 - the model's table
                "WHERE gpu_uuid = ANY(%s::text[]) AND started_at < %s AND ended_at > %s",
                [sorted(gpus), latest_start, earliest_end],
            )
            query = cursor.fetchall()
    else:
        query = UsageRecord.objects.filter(
            gpu_uuid__in=gpus, started_at__lt=latest_start, ended_at__gt=earliest_end
        ).values_list("gpu_uuid", "started_at", "ended_at")
    for gpu, start, end in query:
        stored[gpu].append((start, end))
    for gpu, items in stored.items():
        intervals[gpu] = _Intervals()
        intervals[gpu].set_stored(items)
    return intervals


RECORD_COLUMNS = (
    "record_id", "batch_id", "provider_id", "node_id", "node_name", "enterprise_uscc", "enterprise_id",
    "work_ref", "job_id", "scenario", "gpu_model", "gpu_uuid", "gpu_count", "started_at", "ended_at",
    "gpu_seconds", "avg_util_pct", "max_mem_mib", "energy_wh", "cost_cny", "signed", "signature",
    "leaf_index", "entry_sha256", "received_at",
)  # fmt: skip


def _insert_records(
    accepted: Sequence[_Candidate],
    batch: UsageBatch,
    provider: Provider,
    enterprises: dict[str, int],
    now: datetime,
) -> None:
    """Insert the accepted rows: a binary COPY on PostgreSQL (thousands of rows a batch), bulk_create elsewhere."""
    rows = []
    for c in accepted:
        f = c.fields
        assert f is not None and c.result is not None
        rows.append(
            (
                f.record_id, batch.pk, provider.pk, c.node.pk if c.node else None, f.node_id, f.enterprise_uscc,
                enterprises.get(f.enterprise_uscc), f.work_ref, f.job_id, f.scenario, f.gpu_model, f.gpu_uuid,
                f.gpu_count, f.started_at, f.ended_at, f.gpu_seconds, f.avg_util_pct, f.max_mem_mib, f.energy_wh,
                f.cost_cny, c.signed, f.signature, c.result.leaf_index, c.entry_sha256, now,
            )
        )  # fmt: skip
    if connection.vendor == "postgresql":
        copy_rows(UsageRecord, RECORD_COLUMNS, rows)
        return
    UsageRecord.objects.bulk_create(
        [UsageRecord(**dict(zip(RECORD_COLUMNS, row, strict=True))) for row in rows], batch_size=500
    )
