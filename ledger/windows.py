"""What ``yingdu ledger verify`` reads for one window of entries (entries, tiles, audit events),
fetched a window ahead in a second thread while the current window is hashed."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, NamedTuple

from django.db import connection, transaction

from ledger import tiles
from ledger.events import AUDIT_KIND


class EntryMeta(NamedTuple):
    """One entry as verification reads it: index, kind, whom it concerns and its bytes."""

    leaf: int
    kind: str
    enterprise_id: int | None
    provider_id: int | None
    data: bytes


def as_bytes(value: Any) -> bytes | None:
    """A BLOB column's value as bytes; ``None`` when it holds something else (text, a number)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return None


@dataclass
class WindowRows:
    """What verification reads for one window of entries."""

    datas: list[bytes]
    present: dict[int, bytes]  # by index, only when some entries of the window are missing
    audit_indexes: list[int]
    blobs: dict[int, bytes | None]  # stored level-0 tiles by index (None: not bytes)
    # Every entry of the window as (leaf, kind, enterprise_id, provider_id, data), the fields of
    # EntryMeta in its order: plain rows, so a million entries cost no object each.
    metas: list[tuple[Any, ...]]
    wrong_type: list[int]  # entries whose bytes are stored as something else


def _fetch_window(cursor: Any, start: int, end: int, qmark: bool) -> WindowRows:
    """Read one window with a DB-API cursor (Django's, or sqlite3's own with ``?`` placeholders)."""

    def q(sql: str) -> str:
        return sql.replace("%s", "?") if qmark else sql

    cursor.execute(
        q(
            "SELECT leaf_index, kind, enterprise_id, provider_id, data FROM ledger_entry"
            " WHERE leaf_index >= %s AND leaf_index < %s ORDER BY leaf_index"
        ),
        [start, end],
    )
    rows = cursor.fetchall()
    # sqlite3 and psycopg 3 both return bytes for blobs; anything else is damage, reported.
    datas = list(map(itemgetter(4), rows))
    wrong_type: list[int] = []
    converted = not all(type(d) is bytes for d in datas)
    if converted:
        for k, d in enumerate(datas):
            b = as_bytes(d)
            if b is None:
                wrong_type.append(rows[k][0])
                b = str(d).encode("utf-8", "surrogatepass")
            datas[k] = b
    present: dict[int, bytes] = {}
    if len(datas) != end - start:
        present = dict(zip((r[0] for r in rows), datas, strict=True))
    audit_indexes = [r[0] for r in rows if r[1] == AUDIT_KIND]
    metas: list[tuple[Any, ...]] = rows
    if converted:
        metas = [(*row[:4], data) for row, data in zip(rows, datas, strict=True)]
    t0, t1 = start // tiles.TILE_WIDTH, (end - 1) // tiles.TILE_WIDTH
    cursor.execute(
        q("SELECT key, hashes FROM ledger_tile WHERE key >= %s AND key <= %s"),
        [tiles.tile_key(0, t0), tiles.tile_key(0, t1)],
    )
    blobs = {key: as_bytes(data) for key, data in cursor.fetchall()}
    return WindowRows(datas, present, audit_indexes, blobs, metas, wrong_type)


class Prefetcher:
    """Reads the next window while the current one is hashed (SQLite).

    sqlite3 lets go of the GIL while SQLite steps through rows, so reading overlaps with
    hashing. The helper thread uses the verifier's own connection, inside its transaction
    (the write lock taken at BEGIN IMMEDIATE keeps the file still); the verifier does not
    touch the connection while a read is in flight. PostgreSQL reads inline.
    """

    def __init__(self) -> None:
        self.threaded = connection.vendor == "sqlite"
        self.thread: threading.Thread | None = None
        self.rows: WindowRows | None = None
        self.error: BaseException | None = None

    def start(self, start: int, end: int) -> None:
        if not self.threaded:
            with connection.cursor() as cursor:
                self.rows = _fetch_window(cursor, start, end, qmark=False)
            return
        raw = connection.connection

        def run() -> None:
            cursor = raw.cursor()
            try:
                self.rows = _fetch_window(cursor, start, end, qmark=True)
            except BaseException as exc:  # re-raised by take()
                self.error = exc
            finally:
                cursor.close()

        self.thread = threading.Thread(target=run, name="ledger-verify-read", daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Wait for a read in flight, discarding it (the verifier is failing anyway)."""
        with contextlib.suppress(BaseException):
            if self.thread is not None:
                self.take()

    def take(self) -> WindowRows:
        if self.thread is not None:
            self.thread.join()
            self.thread = None
        if self.error is not None:
            error, self.error = self.error, None
            with connection.wrap_database_errors:
                raise error
        rows, self.rows = self.rows, None
        assert rows is not None
        return rows


class ChecksAhead:
    """The entry checks' reads of each window (``EntryCheck.fetch``), made a window ahead on a
    second PostgreSQL connection in the verifier's own snapshot.

    The checks' queries (the usage rows against their entries, the seals) run in the database
    while the verifier hashes: two processes busy at once, not one after the other. The second
    connection imports the snapshot the verifier exported (``pg_export_snapshot``), so it sees
    exactly what the verifier sees. Results come back in window order, at most two ahead.
    """

    def __init__(
        self, snapshot: str, windows: list[tuple[int, int]], fetch: Callable[[int, int], Any]
    ) -> None:
        self.results: queue.Queue[tuple[int, int, Any, BaseException | None]] = queue.Queue(maxsize=2)
        self.stopping = threading.Event()
        self.thread = threading.Thread(
            target=self._run, args=(snapshot, windows, fetch), name="ledger-verify-checks", daemon=True
        )
        self.thread.start()

    def _run(self, snapshot: str, windows: list[tuple[int, int]], fetch: Callable[[int, int], Any]) -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                cursor.execute("SET TRANSACTION SNAPSHOT %s", [snapshot])
                for start, end in windows:
                    if self.stopping.is_set():
                        return
                    self._put((start, end, fetch(start, end), None))
        except BaseException as exc:  # handed to the verifier by take()
            self._put((-1, -1, None, exc))
        finally:
            connection.close()

    def _put(self, item: tuple[int, int, Any, BaseException | None]) -> None:
        while not self.stopping.is_set():
            try:
                self.results.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def take(self, start: int, end: int) -> Any:
        got_start, got_end, fetched, error = self.results.get()
        if error is not None:
            with connection.wrap_database_errors:
                raise error
        assert (got_start, got_end) == (start, end), "windows out of order"
        return fetched

    def close(self) -> None:
        self.stopping.set()
        self.thread.join()
