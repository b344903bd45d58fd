"""Rows unchanged since a full verification: what a later check may take as already checked.

PostgreSQL stamps every row version it writes (an insert, or an update: a new version) with
the id of the transaction that wrote it, ``xmin``; no SQL statement can choose that number.
A full verification reads the rows it checks at the start of its run or later; before it
reads anything it takes the oldest transaction still running in the database snapshot it
starts from (:func:`snapshot_xmin`): every transaction of this database with a smaller id had
finished by then. So a row whose ``xmin`` is below that number was written before the run and, if it is still there, is the very row version the run checked.
Anything written since — an edit, a row put back, a copy — carries a newer id.

The run stores that number with every leaf its row checks found a problem at (:func:`mark`),
under an HMAC of the site's secret key, so that someone who can only write the database cannot move the
number forward over their own edits. A later check of the same rows (reconciliation) reads
the newest usable mark (:func:`last_verified`) and checks only the rows written since
(:func:`written_since`), the rows of leaves beyond the verified log and the leaves the run
named; every other row is as the run found it, matching its entry.

Transaction ids are 32-bit on a row and wrap around; the snapshot numbers are 64-bit. A
mark is used only while fewer than 2**31 transactions have passed since it, so the distance
from the mark to a row's id, taken modulo 2**32, is below the distance to now exactly for the
rows written since (the distance to now is taken in the same statement as the rows are read).
A mark is refused well before that limit. Old rows frozen by ``VACUUM`` keep their id; a row whose id reads as
recent by accident is checked again, which costs time and never hides anything.

SQLite has no such stamp: there every check reads every row.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils.crypto import salted_hmac

from core.lib.planner import PARALLEL, planner
from ledger import tiles
from ledger.actions import read_tiles
from ledger.merkle import Hasher
from ledger.models import VerificationRun
from ledger.windows import as_bytes

WRAP = 1 << 32
HORIZON = 1 << 30  # a mark is used while fewer transactions than this have passed since it (half the wrap)
_SALT = "ledger.unchanged.mark"


@dataclass(frozen=True)
class Verified:
    """The newest usable mark: rows of leaves below ``tree_size``, written by a transaction below
    ``snapshot_xmin``, matched their entries except at ``named``."""

    run_id: int
    tree_size: int
    snapshot_xmin: int
    named: frozenset[int]


# The oldest transaction that may still write rows of this database in the current snapshot: the
# snapshot's own xmin counts transactions of every database of the server (a long one elsewhere
# would hold it back); a transaction that pg_stat_activity shows connected to another database
# cannot write here. A running transaction it does not show (finished since, prepared, hidden
# from this role) still counts, as does this session's own.
_XMIN_SQL = f"""
    SELECT LEAST(
        pg_snapshot_xmax(s)::text::bigint,
        pg_current_xact_id_if_assigned()::text::bigint,
        (SELECT min(x::text::bigint) FROM pg_snapshot_xip(s) AS x
         WHERE NOT EXISTS (
            SELECT 1 FROM pg_stat_activity a
            WHERE a.backend_xid IS NOT NULL
              AND a.backend_xid::text::bigint = x::text::bigint % {WRAP}
              AND a.datid IS DISTINCT FROM (SELECT oid FROM pg_database WHERE datname = current_database()))))
    FROM pg_current_snapshot() AS s
"""  # noqa: S608 - fixed text


def snapshot_xmin() -> int | None:
    """The oldest transaction of this database still running in the current snapshot, or the
    snapshot's end if none is (64-bit), on PostgreSQL; ``None`` elsewhere."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(_XMIN_SQL)
        (xmin,) = cursor.fetchone()
    return int(xmin)


def _message(tree_size: int, root_hash: bytes, xmin: int, named: Iterable[int]) -> str:
    return json.dumps(
        {"named": sorted(set(named)), "root": root_hash.hex(), "size": tree_size, "xmin": xmin},
        separators=(",", ":"),
    )


def mark(tree_size: int, root_hash: bytes, xmin: int, named: Iterable[int]) -> str:
    """The HMAC that makes a run's snapshot number and named leaves a mark (hex)."""
    return salted_hmac(_SALT, _message(tree_size, root_hash, xmin, named), algorithm="sha256").hexdigest()


def last_verified() -> Verified | None:
    """The newest full run's mark, if it is intact and recent enough to use; ``None`` otherwise."""
    if connection.vendor != "postgresql":
        return None
    run = VerificationRun.objects.filter(snapshot_xmin__isnull=False).order_by("-id").first()
    if run is None or run.snapshot_xmin is None:
        return None
    named = [index for index in run.rows_named if type(index) is int] if isinstance(run.rows_named, list) else []
    if not isinstance(run.rows_named, list) or len(named) != len(run.rows_named):
        return None
    expected = mark(run.tree_size, bytes(run.root_hash), run.snapshot_xmin, named)
    if not hmac.compare_digest(expected, run.mark or ""):
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
        (now,) = cursor.fetchone()
    if not 0 <= int(now) - run.snapshot_xmin < HORIZON:
        return None
    return Verified(run.pk, run.tree_size, run.snapshot_xmin, frozenset(named))


def written_since(alias: str, verified: Verified) -> tuple[str, Sequence[Any]]:
    """A condition on the rows of table ``alias``: true for a row version written after the mark
    (the distance to now read from the statement's own snapshot)."""
    # The distance to now is a sub-select: computed once per statement (not once per row), and
    # handed to PostgreSQL's parallel workers with the statement's snapshot.
    return (
        f"(({alias}.xmin::text::bigint - %s + {WRAP}) %% {WRAP})"
        " < (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint - %s)",
        [verified.snapshot_xmin % WRAP, verified.snapshot_xmin],
    )


def rewritten_entries(size: int, verified: Verified, hasher: Hasher) -> tuple[list[int], list[int]]:
    """Of the entries below ``size`` (the log a run verified), those written since the ``verified``
    mark, and of those the ones whose bytes no longer hash to the leaf hash stored in their tile.
    Below the mark's log a row version written since is a rewrite (entries are append-only) or
    one whose id reads as recent by accident; the entries appended after it are all read again.
    One scan of the entries' stamps; the tiles themselves are left to the full run."""
    since, params = written_since("e", verified)
    with transaction.atomic(), connection.cursor() as cursor, planner(cursor, **PARALLEL):
        cursor.execute(
            f"SELECT e.leaf_index, e.data FROM ledger_entry e WHERE e.leaf_index < %s AND {since}",  # noqa: S608 - fixed text
            [size, *params],
        )
        found = sorted(cursor.fetchall())
    stored = read_tiles({(0, leaf // tiles.TILE_WIDTH) for leaf, _data in found})
    changed = []
    for leaf, data in found:
        blob, at = stored.get((0, leaf // tiles.TILE_WIDTH)), leaf % tiles.TILE_WIDTH * hasher.size
        entry = as_bytes(data)
        if blob is None or entry is None or blob[at : at + hasher.size] != hasher.leaf(entry):
            changed.append(leaf)
    return [leaf for leaf, _data in found], changed
