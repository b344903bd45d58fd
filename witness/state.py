"""The witness's memory: for each log, the latest checkpoint it cosigned, in a small SQLite file.

Checking a request against the stored checkpoint and storing the new one happen in one
``BEGIN IMMEDIATE`` transaction (one writer at a time, across threads and processes), and the
transaction is committed with ``synchronous=FULL`` before any cosignature is made, so a
witness that dies at any moment never cosigns two roots for one size: after a restart it
still holds the checkpoint it was about to cosign. Besides the latest checkpoint, every
(size, root) ever accepted is kept, and a request that would contradict one of them is
refused even if the latest row were lost. Refused requests with a valid log signature are
kept as evidence.
"""

from __future__ import annotations

import enum
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from witness import merkle
from witness.notes import Checkpoint

SCHEMA = """
CREATE TABLE IF NOT EXISTS latest (
    origin TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    root_hash BLOB NOT NULL,
    checkpoint TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS accepted (
    origin TEXT NOT NULL,
    size INTEGER NOT NULL,
    root_hash BLOB NOT NULL,
    PRIMARY KEY (origin, size)
);
CREATE TABLE IF NOT EXISTS refused (
    id INTEGER PRIMARY KEY,
    origin TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    reason TEXT NOT NULL,
    request TEXT NOT NULL
);
"""


class Verdict(enum.Enum):
    ACCEPTED = "accepted"
    CONFLICT = "conflict"  # old size is not ours, or same size with another root: 409
    BAD_PROOF = "bad_proof"  # 422


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    stored_size: int


class State:
    """One SQLite file; safe to share between the server's threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        self._lock = threading.Lock()
        with self._connect() as db:
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        return db

    def latest(self, origin: str) -> tuple[int, bytes | None]:
        db = self._connect()
        try:
            row = db.execute("SELECT size, root_hash FROM latest WHERE origin = ?", (origin,)).fetchone()
        finally:
            db.close()
        return (0, None) if row is None else (int(row[0]), bytes(row[1]))

    def advance(
        self, old: int, proof: Sequence[bytes], checkpoint: Checkpoint, alg: str, request: str
    ) -> Outcome:
        """Check the request against the stored checkpoint and, if it holds, store the new one (tlog-witness)."""
        origin = checkpoint.origin
        with self._lock:
            db = self._connect()
            try:
                db.execute("BEGIN IMMEDIATE")
                row = db.execute("SELECT size, root_hash FROM latest WHERE origin = ?", (origin,)).fetchone()
                size, root = (0, merkle.empty_root(alg)) if row is None else (int(row[0]), bytes(row[1]))
                verdict: Verdict | None = None
                reason = ""
                if old != size:
                    verdict = Verdict.CONFLICT
                elif checkpoint.size == size and row is not None:
                    if checkpoint.root_hash != root:
                        verdict, reason = Verdict.CONFLICT, "same size, other root"
                elif not merkle.verify_consistency(
                    size, checkpoint.size, root, checkpoint.root_hash, list(proof), alg
                ):
                    verdict, reason = Verdict.BAD_PROOF, "consistency proof does not verify"
                if verdict is None:
                    seen = db.execute(
                        "SELECT root_hash FROM accepted WHERE origin = ? AND size = ?",
                        (origin, checkpoint.size),
                    ).fetchone()
                    if seen is not None and bytes(seen[0]) != checkpoint.root_hash:
                        verdict, reason = Verdict.CONFLICT, "a size accepted before with another root"
                if verdict is not None:
                    if reason:
                        db.execute(
                            "INSERT INTO refused (origin, received_at, reason, request) VALUES (?, ?, ?, ?)",
                            (origin, int(time.time()), reason, request),
                        )
                    db.execute("COMMIT")
                    return Outcome(verdict, size)
                db.execute(
                    "INSERT INTO latest (origin, size, root_hash, checkpoint, updated_at) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root_hash = excluded.root_hash,"
                    " checkpoint = excluded.checkpoint, updated_at = excluded.updated_at",
                    (origin, checkpoint.size, checkpoint.root_hash, checkpoint.text, int(time.time())),
                )
                db.execute(
                    "INSERT OR IGNORE INTO accepted (origin, size, root_hash) VALUES (?, ?, ?)",
                    (origin, checkpoint.size, checkpoint.root_hash),
                )
                db.execute("COMMIT")
                return Outcome(Verdict.ACCEPTED, checkpoint.size)
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            finally:
                db.close()

    def refused_count(self, origin: str) -> int:
        db = self._connect()
        try:
            (n,) = db.execute("SELECT count(*) FROM refused WHERE origin = ?", (origin,)).fetchone()
        finally:
            db.close()
        return int(n)
