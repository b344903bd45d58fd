"""What ``yingdu ledger verify`` reads for one window of entries (entries, tiles, audit events):
the entries and tiles packed by the database into a few values, so that reading a million
entries costs a few dozen values in Python, not a row each."""

from __future__ import annotations

import json
import queue
import re
import threading
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from operator import itemgetter
from typing import Any, NamedTuple, overload

from django.db import DatabaseError, connection, transaction

from core.copy import binary_fetchone
from ledger import tiles
from ledger.events import AUDIT_KIND
from ledger.merkle import Hasher


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


def full_run_windows(size: int, window: int) -> list[tuple[int, int]]:
    """The windows of a full run: the first one an eighth of the others (a multiple of the tile
    width), so that the checks' reads made ahead (``ChecksAhead``) overlap with hashing early on."""
    first = max(tiles.TILE_WIDTH, window // 8 // tiles.TILE_WIDTH * tiles.TILE_WIDTH)
    if window <= first or size <= first:
        return [(start, min(start + window, size)) for start in range(0, size, window)]
    return [(0, first)] + [(start, min(start + window, size)) for start in range(first, size, window)]


def entries_where(kind: str, sql_where: str, params: Sequence[Any]) -> dict[int, EntryMeta]:
    """The entries of ``kind`` that ``sql_where`` (a condition on ``leaf_index``) selects, by leaf
    index; an entry not held as bytes is left out (the window's read reports it)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT leaf_index, kind, enterprise_id, provider_id, data"  # noqa: S608 - fixed text, values are parameters
            f" FROM ledger_entry WHERE kind = %s AND {sql_where}",
            [kind, *params],
        )
        found = cursor.fetchall()
    return {
        index: EntryMeta(index, found_kind, enterprise, provider, data)
        for index, found_kind, enterprise, provider, raw in found
        if (data := as_bytes(raw)) is not None
    }


class Packed(Sequence[bytes]):
    """A window's entries packed one after the other, each preceded by 0x00 (the leaf hash's
    prefix): entry ``k`` is ``packed[offsets[k] + 1 : offsets[k + 1]]``, cut out when asked for."""

    def __init__(self, packed: bytes, offsets: list[int]) -> None:
        self.packed = packed
        self.offsets = offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @overload
    def __getitem__(self, k: int) -> bytes: ...

    @overload
    def __getitem__(self, k: slice) -> list[bytes]: ...

    def __getitem__(self, k: int | slice) -> bytes | list[bytes]:
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        if k < 0:
            k += len(self)
        if not 0 <= k < len(self):
            raise IndexError(k)
        return self.packed[self.offsets[k] + 1 : self.offsets[k + 1]]

    def starting_with(self, prefixes: tuple[bytes, ...]) -> list[int]:
        """The positions of the entries that start with one of ``prefixes``, in order.

        One regular-expression scan of the packed bytes finds each 0x00 followed by a prefix (the
        prefix only looked ahead at, so that no place hides another); only those places are looked
        at one by one.
        """
        found: list[int] = []
        if not prefixes:
            return found
        pattern = re.compile(b"\\x00(?=" + b"|".join(map(re.escape, prefixes)) + b")")
        offsets, packed = self.offsets, self.packed
        for match in pattern.finditer(packed):
            at = match.start()
            k = bisect_left(offsets, at)
            if k < len(self) and offsets[k] == at and packed.startswith(prefixes, at + 1, offsets[k + 1]):
                found.append(k)
        return found


@dataclass
class WindowRows:
    """What verification reads for one window of entries."""

    # The entries' bytes in leaf order (those present, when some are missing): a ``Packed``
    # window, or a list when the window was read row by row.
    datas: Sequence[bytes]
    present: dict[int, bytes]  # by index, only when some entries of the window are missing
    audit_indexes: list[int]
    blobs: dict[int, bytes | None]  # stored level-0 tiles by index (None: not bytes)
    # The entries whose metadata is checked (``Interest``; every entry when the window was read
    # row by row) as (leaf, kind, enterprise_id, provider_id, data), the fields of EntryMeta in
    # its order, in leaf order: plain rows, so a million entries cost no object each.
    metas: list[tuple[Any, ...]]
    wrong_type: list[int]  # entries whose bytes are stored as something else

    def leaves(self, hasher: Hasher) -> list[bytes]:
        """The leaf hashes of ``datas``."""
        if isinstance(self.datas, Packed):
            return hasher.packed_leaves(self.datas.packed, self.datas.offsets)
        return hasher.leaves(self.datas)


@dataclass(frozen=True)
class Interest:
    """Which entries the metadata checks look at: those of ``kinds`` (the checked kinds and audit
    entries), and those of any other kind whose bytes start with one of ``claimed`` (they might
    be taken for a checked kind's entries). No other entry needs its metadata read."""

    kinds: tuple[str, ...]
    claimed: tuple[bytes, ...]


_ENTRY_COLUMNS = "SELECT leaf_index, kind, enterprise_id, provider_id"
_IN_WINDOW = " FROM ledger_entry WHERE leaf_index >= %s AND leaf_index < %s"
_TILES = " FROM ledger_tile WHERE key >= %s AND key <= %s"

# A window's entries as a few values: the least and the greatest kind among them (one kind, not
# a checked one: no entry of the window is of a checked kind), their lengths plus one (0 for a
# value that is not a BLOB: the window is then read row by row) and their bytes, each preceded by
# 0x00 (so each is the input of its leaf hash as it stands), all in leaf order. SQLite's ``||``
# and ``group_concat`` copy a BLOB's bytes unchanged in a UTF-8 database (were they converted, the
# lengths would not add up and the window would be read row by row), and it concatenates in the
# order it scans the range of the table's rowid, ascending (``read_window`` makes sure
# ``reverse_unordered_selects`` is off). Only BLOBs are ``>= X''``.
_PACKED = {
    "sqlite": (
        "SELECT min(kind), max(kind), group_concat(CASE WHEN data >= X'' THEN length(data) + 1 ELSE 0 END),"
        " CAST(group_concat(X'00' || data, '') AS BLOB)" + _IN_WINDOW
    ),
    "postgresql": (
        "SELECT min(kind), max(kind), string_agg((length(data) + 1)::text, ',' ORDER BY leaf_index),"
        " string_agg('\\x00'::bytea || data, ''::bytea ORDER BY leaf_index)" + _IN_WINDOW
    ),
}
# The window's level-0 tiles the same way: their keys, lengths and hashes, in key order.
_PACKED_TILES = {
    "sqlite": (
        "SELECT count(*), sum(typeof(hashes) <> 'blob'), group_concat(key), group_concat(length(hashes)),"  # noqa: S608 - fixed text
        " CAST(group_concat(hashes, '') AS BLOB) FROM (SELECT key, hashes" + _TILES + " ORDER BY key)"
    ),
    "postgresql": (
        "SELECT count(*), 0, string_agg(key::text, ',' ORDER BY key),"
        " string_agg(length(hashes)::text, ',' ORDER BY key), string_agg(hashes, ''::bytea ORDER BY key)"
        + _TILES
    ),
}


def _from_rows(
    rows: list[Any], start: int, end: int
) -> tuple[list[Any], list[bytes], dict[int, bytes], list[int]]:
    """From rows of (leaf, kind, enterprise_id, provider_id, data): the rows with their data as
    bytes, the entries' bytes, the same by index when some are missing, and the entries stored as
    something else."""
    # sqlite3 and psycopg 3 both return bytes for blobs; anything else is damage, reported.
    datas = list(map(itemgetter(4), rows))
    wrong_type: list[int] = []
    if not all(type(d) is bytes for d in datas):
        for k, d in enumerate(datas):
            b = as_bytes(d)
            if b is None:
                wrong_type.append(rows[k][0])
                b = str(d).encode("utf-8", "surrogatepass")
            datas[k] = b
        rows = [(*row[:4], data) for row, data in zip(rows, datas, strict=True)]
    present: dict[int, bytes] = {}
    if len(datas) != end - start:
        present = dict(zip((r[0] for r in rows), datas, strict=True))
    return rows, datas, present, wrong_type


def _unpack(packed: Any, start: int, end: int, kinds: tuple[str, ...]) -> tuple[bool, Packed] | None:
    """Whether entries of the checked ``kinds`` may be in the window, and the window's entries,
    from the packed query's answer; None where it is not the whole window of BLOBs (an entry
    missing, one of another type): then the rows are read one by one."""
    if packed is None:
        return None
    least, greatest, lengths, blob = packed
    if not isinstance(lengths, str) or type(blob) is not bytes:
        return None
    try:  # whole numbers: the database computed them
        sizes = json.loads(f"[{lengths}]")
        if len(sizes) != end - start or min(sizes) < 1:
            return None
    except (ValueError, TypeError):
        return None
    offsets = list(accumulate(sizes, initial=0))
    if offsets[-1] != len(blob):
        return None
    return least != greatest or least in kinds, Packed(blob, offsets)


def _unpack_tiles(packed: Any) -> dict[int, bytes | None] | None:
    """The stored tiles by key from the packed tiles query's answer; None where they must be
    read one by one (one is not a BLOB)."""
    if packed is None:
        return None
    count, not_blobs, keys, lengths, blob = packed
    if not count:
        return {}
    if not_blobs or not isinstance(keys, str) or not isinstance(lengths, str) or type(blob) is not bytes:
        return None
    try:
        ends = list(accumulate(map(int, lengths.split(","))))
        key_list = list(map(int, keys.split(",")))
    except ValueError:
        return None
    if len(ends) != count or len(key_list) != count or ends[-1] != len(blob):
        return None
    return {key: blob[a:b] for key, a, b in zip(key_list, [0, *ends[:-1]], ends, strict=True)}


def _read_packed(cursor: Any, start: int, end: int, interest: Interest) -> tuple[Any, Any]:
    """The packed queries' answers for the window (``_PACKED``, ``_PACKED_TILES``), None for a
    query that failed (more than the database concatenates, or a column of another type)."""
    vendor = connection.vendor
    answers: list[Any] = []
    for sql, params in ((_PACKED[vendor], [start, end]), (_PACKED_TILES[vendor], _tile_range(start, end))):
        try:
            # A failed statement spoils a PostgreSQL transaction: each runs in a savepoint.
            with transaction.atomic():
                if vendor == "postgresql":  # tens of megabytes of bytea: not as hexadecimal text
                    answers.append(binary_fetchone(sql, params))
                else:
                    cursor.execute(sql, params)
                    answers.append(cursor.fetchone())
        except DatabaseError:
            answers.append(None)
    return answers[0], answers[1]


def _tile_range(start: int, end: int) -> list[int]:
    t0, t1 = start // tiles.TILE_WIDTH, (end - 1) // tiles.TILE_WIDTH
    return [tiles.tile_key(0, t0), tiles.tile_key(0, t1)]


def _window_rows(
    cursor: Any, start: int, end: int, interest: Interest, packed: tuple[Any, Any]
) -> WindowRows:
    """One window from the packed answers (``_read_packed``; None: read row by row).

    Of the packed entries, those of the checked kinds are also read as rows, with their
    metadata, and of the others only those whose bytes start like a checked kind's entries. A
    window the packed read cannot give (an entry missing or not a BLOB) is read as rows, every
    entry with its metadata.
    """
    unpacked = _unpack(packed[0], start, end, interest.kinds)
    datas: Sequence[bytes]
    rows: list[Any] = []
    present: dict[int, bytes] = {}
    wrong_type: list[int] = []
    if unpacked is not None:
        checked, datas = unpacked
        if checked:
            # Their metadata; their bytes are those of the packed read.
            marks = ", ".join(["%s"] * len(interest.kinds))
            cursor.execute(
                f"{_ENTRY_COLUMNS}{_IN_WINDOW} AND kind IN ({marks}) ORDER BY leaf_index",
                [start, end, *interest.kinds],
            )
            rows = [(*r, datas[r[0] - start]) for r in cursor.fetchall()]
        # Entries of other kinds matter only where their bytes start like a checked kind's.
        look = set(datas.starting_with(interest.claimed)) - {r[0] - start for r in rows}
        if look:
            cursor.execute(f"{_ENTRY_COLUMNS}{_IN_WINDOW} ORDER BY leaf_index", [start, end])
            found = [(*r, datas[r[0] - start]) for r in cursor.fetchall() if r[0] - start in look]
            rows = sorted(rows + found, key=itemgetter(0))
    else:
        cursor.execute(f"{_ENTRY_COLUMNS}, data{_IN_WINDOW} ORDER BY leaf_index", [start, end])
        rows, datas, present, wrong_type = _from_rows(cursor.fetchall(), start, end)
    audit_indexes = [r[0] for r in rows if r[1] == AUDIT_KIND]
    blobs = _unpack_tiles(packed[1])
    if blobs is None:
        cursor.execute(f"SELECT key, hashes{_TILES}", _tile_range(start, end))
        blobs = {key: as_bytes(data) for key, data in cursor.fetchall()}
    return WindowRows(datas, present, audit_indexes, blobs, rows, wrong_type)


def read_window(start: int, end: int, interest: Interest) -> WindowRows:
    """What verification reads for the window of entries [start, end).

    It is read in the verifier's own thread, between hashing one window and the next: with a
    second thread reading ahead, every handover of the GIL waited for the other thread to be
    scheduled, which on a busy machine cost more than the overlap won.
    """
    with connection.cursor() as cursor:
        packed: tuple[Any, Any] = (None, None)
        if _packs(cursor):
            packed = _read_packed(cursor, start, end, interest)
        return _window_rows(cursor, start, end, interest, packed)


def _packs(cursor: Any) -> bool:
    """Whether the database packs windows in leaf order (``_PACKED``)."""
    if connection.vendor == "sqlite":
        cursor.execute("PRAGMA reverse_unordered_selects")
        (reversed_scans,) = cursor.fetchone()
        return not reversed_scans
    return connection.vendor in _PACKED


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
