"""Reading the log: sizes, roots, proofs, entries, checkpoints and receipts (no writes but one bootstrap).

Proofs are O(log n) reads: each needs at most one tile per tile level (three rows at a
million entries), read in one query, plus a few hundred hashes.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import connection

from ledger import keys, merkle, tiles
from ledger.actions import read_tiles, sign_checkpoint
from ledger.models import Checkpoint, Entry, LogState


class ProofError(ValueError):
    """The requested sizes or index do not fit the log."""


def _state() -> LogState | None:
    return LogState.objects.filter(pk=1).first()


def tree_size() -> int:
    """The number of entries in the log."""
    state = _state()
    return state.size if state is not None else 0


def hash_alg() -> str:
    """The log's hash algorithm ("sha256" or "sm3"), fixed when the log was created."""
    state = _state()
    return state.hash_alg if state is not None else settings.LEDGER_HASH


def _check_size(size: int) -> tuple[str, int]:
    # Raw SQL: this is on the path of every proof, and the ORM would cost more than the proof.
    with connection.cursor() as cursor:
        cursor.execute("SELECT hash_alg, size FROM ledger_logstate WHERE id = 1")
        row = cursor.fetchone()
    alg, current = row if row is not None else (settings.LEDGER_HASH, 0)
    if not 0 <= size <= current:
        raise ProofError(f"tree size {size} is not between 0 and the current size {current}")
    return alg, current


def _range_hashes(ranges: Sequence[tuple[int, int]], alg: str) -> list[bytes]:
    hasher = merkle.hasher(alg)
    data = read_tiles(tiles.tiles_needed(ranges))
    return [tiles.range_hash(lo, hi, data, hasher) for lo, hi in ranges]


def root_at(tree_size: int) -> bytes:
    """The root hash of the tree of the first ``tree_size`` entries."""
    alg, current = _check_size(tree_size)
    if tree_size == 0:
        return merkle.empty_root(alg)
    return _range_hashes([(0, tree_size)], alg)[0]


def inclusion_proof(index: int, tree_size: int) -> list[bytes]:
    """The RFC 9162 inclusion proof of entry ``index`` in the tree of size ``tree_size``."""
    alg, _ = _check_size(tree_size)
    if not 0 <= index < tree_size:
        raise ProofError(f"index {index} is not in a tree of size {tree_size}")
    return _range_hashes(merkle.inclusion_ranges(index, tree_size), alg)


def consistency_proof(old: int, new: int) -> list[bytes]:
    """The RFC 9162 consistency proof between tree sizes ``old`` and ``new``."""
    alg, _ = _check_size(new)
    if not 0 <= old <= new:
        raise ProofError(f"old size {old} is not between 0 and {new}")
    return _range_hashes(merkle.consistency_ranges(old, new), alg)


def entry(index: int) -> bytes:
    """The exact bytes of entry ``index``; raises ``Entry.DoesNotExist``."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT data FROM ledger_entry WHERE leaf_index = %s", [index])
        row = cursor.fetchone()
    if row is None or index >= tree_size():
        raise Entry.DoesNotExist(f"no entry {index}")
    return bytes(row[0])


def leaf_hash(index: int) -> bytes:
    """The stored leaf hash of entry ``index`` (from its tile)."""
    alg, current = _check_size(tree_size())
    if not 0 <= index < current:
        raise Entry.DoesNotExist(f"no entry {index}")
    return _range_hashes([(index, index + 1)], alg)[0]


def latest_checkpoint_row() -> Checkpoint:
    """The latest checkpoint signed by the current key (one is signed if there is none yet)."""
    key_hash = keys.signer().key_hash.hex()
    row = Checkpoint.objects.filter(key_hash=key_hash).order_by("-tree_size").first()
    if row is None:
        sign_checkpoint()
        row = Checkpoint.objects.filter(key_hash=key_hash).order_by("-tree_size").first()
        assert row is not None
    return row


def latest_checkpoint() -> str:
    """The latest signed checkpoint note."""
    return latest_checkpoint_row().note


def verifier_key() -> str:
    """The verifier key of the checkpoints, in signed-note form."""
    return keys.verifier_key()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def receipts(indexes: Sequence[int], checkpoint: Checkpoint | None = None) -> list[dict[str, Any]]:
    """Offline-verifiable receipts (format in ``ledger.offline``) for entries, against one checkpoint.

    Call :func:`ledger.actions.sign_checkpoint` first so that the latest checkpoint covers
    the entries; an entry the checkpoint does not cover raises ``ProofError``.
    """
    cp = checkpoint or latest_checkpoint_row()
    alg, _ = _check_size(cp.tree_size)
    out = []
    for index in indexes:
        if not 0 <= index < cp.tree_size:
            raise ProofError(f"entry {index} is not covered by the checkpoint of size {cp.tree_size}")
        proof = inclusion_proof(index, cp.tree_size)
        out.append(
            {
                "leaf_index": index,
                "tree_size": cp.tree_size,
                "entry": b64(entry(index)),
                "inclusion_path": [b64(p) for p in proof],
                "checkpoint": cp.note,
                "hash": alg,
            }
        )
    return out


def receipt(index: int) -> dict[str, Any]:
    """The receipt of one entry against the latest checkpoint."""
    return receipts([index])[0]
