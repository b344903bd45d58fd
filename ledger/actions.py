"""Writing to the tamper-evident log: audit events, bulk appends and signed checkpoints (SPEC §7).

Every action of the platform calls :func:`record_event` inside its transaction; the
event becomes a log entry in that same transaction. Other apps append their own
entries (accepted usage records) with :func:`append_entries` and then call
:func:`sign_checkpoint` to get a checkpoint that covers them.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterable, Sequence
from itertools import repeat
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.http import HttpRequest
from django.utils import timezone

from ledger import merkle, tiles
from ledger.events import AUDIT_KIND, audit_entry_bytes
from ledger.keys import signer as current_signer
from ledger.models import AuditEvent, Checkpoint, LogState, Tile
from ledger.note import sign_checkpoint as sign_checkpoint_note

logger = logging.getLogger(__name__)

# Entries are hashed and inserted this many at a time, so a million-entry append keeps
# only one chunk's rows and the full tiles of that chunk in memory.
APPEND_CHUNK = 1 << 16
MAX_KIND_LENGTH = 32


def client_ip(request: HttpRequest | None) -> str | None:
    """The client address as the reverse proxy reports it (nginx sets X-Real-IP)."""
    if request is None:
        return None
    ip = request.META.get("HTTP_X_REAL_IP") or request.META.get("REMOTE_ADDR")
    return ip or None


def record_event(
    action: str,
    *,
    actor: Any,
    obj: models.Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    result: str = AuditEvent.Result.SUCCESS,
    request: HttpRequest | None = None,
    ip: str | None = None,
    enterprise_id: int | None = None,
    actor_repr: str = "",
) -> AuditEvent:
    """Append one audit event (and its ledger entry) in the caller's transaction.

    ``actor`` is a user or ``None`` for the system or an anonymous client; ``actor_repr``
    names it when there is no user row (a failed login's username, a provider token).
    """
    user = actor if getattr(actor, "pk", None) is not None else None
    if not actor_repr:
        actor_repr = getattr(user, "username", "") if user is not None else "system"
    if enterprise_id is None and obj is not None:
        enterprise_id = getattr(obj, "enterprise_id", None)
        if enterprise_id is None and obj.__class__.__name__ == "Enterprise":
            enterprise_id = obj.pk
    event = AuditEvent(
        created_at=timezone.now(),
        actor=user,
        actor_repr=actor_repr[:150],
        action=action,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        before=before,
        after=after,
        result=result,
        ip=ip or client_ip(request),
        enterprise_id_ref=enterprise_id,
    )
    with transaction.atomic():
        _append_to_ledger(event)
        event.save(force_insert=True)
    return event


def _append_to_ledger(event: AuditEvent) -> None:
    """Log the event first, then the caller inserts the row with ``leaf_index`` set (rows stay insert-only)."""
    [index] = append_entries(
        [audit_entry_bytes(event)], kind=AUDIT_KIND, enterprise_id=event.enterprise_id_ref
    )
    event.leaf_index = index


def _lock_state() -> LogState:
    """The log's state row, locked for this transaction; created on first use with ``LEDGER_HASH``."""
    state = LogState.objects.select_for_update().filter(pk=1).first()
    if state is not None:
        return state
    alg = settings.LEDGER_HASH
    hasher = merkle.hasher(alg)  # raises for an unknown algorithm
    # ON CONFLICT DO NOTHING: two first writers racing both end up locking the same row.
    LogState.objects.bulk_create(
        [
            LogState(
                pk=1,
                log_id=secrets.token_hex(16),
                origin=settings.LEDGER_ORIGIN,
                hash_alg=alg,
                size=0,
                root_hash=hasher.empty,
            )
        ],
        ignore_conflicts=True,
    )
    return LogState.objects.select_for_update().get(pk=1)


def _per_entry(value: int | Sequence[int | None] | None, n: int, what: str) -> int | list[int | None] | None:
    if value is None or isinstance(value, int):
        return value
    if len(value) != n:
        raise ValueError(f"{what} has {len(value)} items for {n} entries")
    return [None if v is None else int(v) for v in value]


def _chunk(value: int | list[int | None] | None, offset: int, n: int) -> int | list[int | None] | None:
    return value[offset : offset + n] if isinstance(value, list) else value


def read_tiles(ids: Iterable[tiles.TileId]) -> dict[tiles.TileId, bytes]:
    """The stored data of the given tiles (missing ones are absent)."""
    keys = {tiles.tile_key(level, index): (level, index) for level, index in ids}
    if not keys:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT key, hashes FROM ledger_tile WHERE key IN ({})".format(", ".join(["%s"] * len(keys))),  # noqa: S608 - placeholders only
            list(keys),
        )
        return {keys[key]: bytes(data) for key, data in cursor.fetchall()}


def _write_tiles(changed: dict[tiles.TileId, bytes], existing: set[tiles.TileId]) -> None:
    new = [
        Tile(key=tiles.tile_key(level, index), level=level, index=index, hashes=data)
        for (level, index), data in changed.items()
        if (level, index) not in existing
    ]
    for level, index in existing & changed.keys():
        Tile.objects.filter(key=tiles.tile_key(level, index)).update(hashes=changed[(level, index)])
    Tile.objects.bulk_create(new, batch_size=500)
    existing.update(changed)


_COPY_ENTRY = "COPY ledger_entry (leaf_index, kind, data, enterprise_id, provider_id) FROM STDIN"
_KIND_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
ROWS_PER_INSERT = 100


def _insert_sql(rows: int, kind: str, columns: list[str]) -> str:
    # Values shared by every entry of the batch are written into the statement (kind is
    # checked against _KIND_RE, ids are ints); per-entry values are parameters.
    row = "(%s, '" + kind + "', %s, " + ", ".join(columns) + ")"
    values = ", ".join([row] * rows)
    return f"INSERT INTO ledger_entry (leaf_index, kind, data, enterprise_id, provider_id) VALUES {values}"  # noqa: S608


def _insert_entries(
    start: int,
    entries: list[bytes],
    kind: str,
    enterprise_ids: int | list[int | None] | None,
    provider_ids: int | list[int | None] | None,
) -> None:
    """Insert the entry rows of one chunk.

    The ORM would build a model instance per entry. On SQLite, multi-row INSERTs of 100
    rows through one prepared statement run about twice as fast as one row per execution;
    PostgreSQL gets COPY.
    """
    n = len(entries)
    indexes = range(start, start + n)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            ent = enterprise_ids if isinstance(enterprise_ids, list) else repeat(enterprise_ids, n)
            prov = provider_ids if isinstance(provider_ids, list) else repeat(provider_ids, n)
            with cursor.cursor.copy(_COPY_ENTRY) as copy:
                for row in zip(indexes, repeat(kind), entries, ent, prov, strict=False):
                    copy.write_row(row)
            return
        per_row: list[Sequence[Any]] = [indexes, entries]
        columns = []
        for ids in (enterprise_ids, provider_ids):
            if isinstance(ids, list):
                per_row.append(ids)
                columns.append("%s")
            else:
                columns.append("NULL" if ids is None else str(int(ids)))
        width = len(per_row)

        def params(lo: int, hi: int) -> list[Any]:
            flat: list[Any] = [None] * ((hi - lo) * width)
            for k, values in enumerate(per_row):
                flat[k::width] = values[lo:hi]
            return flat

        full = n - n % ROWS_PER_INSERT
        if full:
            cursor.executemany(
                _insert_sql(ROWS_PER_INSERT, kind, columns),
                [params(lo, lo + ROWS_PER_INSERT) for lo in range(0, full, ROWS_PER_INSERT)],
            )
        if full < n:
            cursor.execute(_insert_sql(n - full, kind, columns), params(full, n))


def append_entries(
    entries: list[bytes],
    *,
    kind: str,
    enterprise_id: int | Sequence[int | None] | None = None,
    provider_id: int | Sequence[int | None] | None = None,
) -> list[int]:
    """Append entries to the log in the caller's transaction; returns their leaf indexes.

    The log's state row is locked until the transaction ends, so appends are sequenced
    by the database even with several application servers. ``kind`` names what the
    entries are ("audit_event", "usage_record", lowercase letters, digits and ``_``).
    ``enterprise_id`` and ``provider_id`` (one value for all entries, or one per entry) say
    whom each entry concerns, for access to it through the API. A checkpoint is signed
    after the transaction commits.
    """
    n = len(entries)
    if n == 0:
        return []
    if not _KIND_RE.match(kind):
        raise ValueError("kind must be 1 to 32 lowercase letters, digits or _")
    if max(map(len, entries)) > tiles.MAX_ENTRY_BYTES:
        raise ValueError("a ledger entry is at most 65535 bytes")
    enterprise_ids = _per_entry(enterprise_id, n, "enterprise_id")
    provider_ids = _per_entry(provider_id, n, "provider_id")
    with transaction.atomic():
        state = _lock_state()
        start = size = state.size
        hasher = merkle.hasher(state.hash_alg)
        edge = read_tiles(tiles.edge_tiles(size))
        existing = set(edge)
        root = bytes(state.root_hash)
        dirty: set[tiles.TileId] = set()  # edge tiles changed but not yet written
        for offset in range(0, n, APPEND_CHUNK):
            chunk = entries[offset : offset + APPEND_CHUNK]
            # Hashing first also refuses anything that is not bytes before a row is written.
            leaf_hashes = hasher.leaves(chunk)
            result = tiles.append_to_tiles(size, leaf_hashes, edge, hasher)
            _insert_entries(
                size,
                chunk,
                kind,
                _chunk(enterprise_ids, offset, len(chunk)),
                _chunk(provider_ids, offset, len(chunk)),
            )
            size += len(chunk)
            edge_ids = set(tiles.edge_tiles(size))
            # Full tiles never change again: write them now; keep the edge for the next chunk.
            _write_tiles({t: d for t, d in result.tiles.items() if t not in edge_ids}, existing)
            dirty = (dirty | result.tiles.keys()) & edge_ids
            edge = {t: result.tiles.get(t) or edge[t] for t in edge_ids}
            root = result.root
        _write_tiles({t: edge[t] for t in dirty}, existing)
        state.size = size
        state.root_hash = root
        state.updated_at = timezone.now()
        state.save(update_fields=["size", "root_hash", "updated_at"])
        transaction.on_commit(_sign_checkpoint_after_commit, robust=True)
    return list(range(start, size))


def _sign_checkpoint_after_commit() -> None:
    sign_checkpoint()


def sign_checkpoint() -> str:
    """Sign and store a checkpoint for the current tree size; returns the signed note.

    If the latest checkpoint by the current key already covers the current size, that one
    is returned, so calling this after every batch costs one query when nothing changed.
    """
    signer = current_signer()
    key_hash = signer.key_hash.hex()
    with transaction.atomic():
        state = _lock_state()
        latest = Checkpoint.objects.filter(key_hash=key_hash).order_by("-tree_size").first()
        if latest is not None and latest.tree_size == state.size:
            return latest.note
        root = bytes(state.root_hash)
        note = sign_checkpoint_note(signer, state.origin, state.size, root)
        Checkpoint.objects.create(tree_size=state.size, root_hash=root, note=note, key_hash=key_hash)
    return note


def run_verification(*, actor: Any = None, actor_repr: str = "", request: HttpRequest | None = None) -> Any:
    """Verify the whole log (``ledger.verify``), store the result for the inspector page and audit the run."""
    from ledger.models import VerificationRun
    from ledger.verify import verify_log

    started = timezone.now()
    result = verify_log()
    first_bad = result.first_bad_index
    with transaction.atomic():
        run = VerificationRun.objects.create(
            started_at=started,
            finished_at=timezone.now(),
            tree_size=result.tree_size,
            root_hash=result.root_hash,
            checkpoints_checked=result.checkpoints_checked,
            ok=result.ok,
            first_bad_index=first_bad,
            problems=[{"index": p.index, "message": p.message} for p in result.problems],
            actor_repr=(actor_repr or getattr(actor, "username", "") or "system")[:150],
        )
        try:
            # A log damaged badly enough may refuse new entries; the run is stored regardless.
            with transaction.atomic():
                record_event(
                    "ledger.verify",
                    actor=actor,
                    obj=run,
                    after={"ok": result.ok, "tree_size": result.tree_size, "first_bad_index": first_bad},
                    result=AuditEvent.Result.SUCCESS if result.ok else AuditEvent.Result.FAILURE,
                    request=request,
                    actor_repr=actor_repr,
                )
        except Exception:
            logger.exception("could not log the verification run")
    return run
