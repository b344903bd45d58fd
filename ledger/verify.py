"""``yingdu ledger verify``: recompute the whole log from its entries and check everything stored.

Checks, in one consistent snapshot: every entry is present and hashes to the leaf hash in
its tile; every stored tile (its hashes and its inner nodes) equals the one recomputed
from the layer below; no entry or tile lies beyond the tree size; the stored root is the
recomputed root; every checkpoint carries a valid signature by the platform's key and
names the recomputed root of its size; every audit event equals the entry logged for
it, and every audit entry has its event; each entry's metadata (kind, enterprise,
provider) agrees with its bytes. Apps whose rows copy entries (monitoring's usage rows)
register an :class:`ledger.entry_checks.EntryCheck` for their kind (``register_entry_check``), which checks
those rows against the entries in the same pass: a row edited, deleted or pointing
elsewhere is reported naming the row and the entry.

A value of the wrong type in a column (a BLOB turned TEXT) is reported, never raised.

Each stored layer is checked against the layer below it, so an edited, deleted, inserted
or reordered row shows up once, as a problem naming the first index it affects.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from contextlib import closing
from itertools import compress, repeat
from operator import eq, itemgetter, methodcaller
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils.translation import gettext as _

from core.lib.collector import collector_paused
from ledger import merkle, seen, tiles
from ledger.actions import read_tiles
from ledger.entry_checks import ENTRY_CHECKS, TABLE_CHECKS
from ledger.events import AUDIT_KIND, audit_entry_bytes
from ledger.models import AuditEvent, LogState
from ledger.unchanged import last_verified, rewritten_entries, snapshot_xmin
from ledger.verify_checkpoints import UPPER_KEYS, CheckpointChecks
from ledger.verify_result import Problem, VerifyResult
from ledger.windows import (
    ChecksAhead,
    EntryMeta,
    Interest,
    WindowRows,
    as_bytes,
    full_run_windows,
    read_window,
)
from ledger.witnessing import cosignature_problems

WINDOW = 1 << 16  # entries read and hashed at a time (a multiple of the tile width)
MAX_PROBLEMS = 200
MAX_ROWS_NAMED = 100_000


def _changed_entry(index: int) -> str:
    return _("第 %(index)s 条的内容与保存的叶哈希不符（被修改、替换或调换了顺序）") % {"index": index}


def _looks_like_audit_entry(data: bytes) -> bool:
    return data.startswith(b'{"action":') and b'"type":"audit_event"' in data


def verify_log(
    window: int = WINDOW,
    seen_elsewhere: list[str] | None = None,
    since: tuple[int, bytes] | None = None,
) -> VerifyResult:
    """Verify the stored log; see the module docstring for what is checked.

    ``seen_elsewhere``: exported ``checkpoint`` files or export folders whose checkpoints the
    log must not be shorter than (besides the file kept beside the key, ``ledger.seen``).
    ``since``: (size, root) of a tree already verified; only the entries after it are
    re-hashed, and the log must extend that tree (``_Verifier.run_incremental``).
    """
    if window % tiles.TILE_WIDTH:
        raise ValueError("window must be a multiple of the tile width")
    # Read before the snapshot: every checkpoint in a file was committed before it was written.
    outside = seen.seen_checkpoints(seen_elsewhere)
    # A window is hundreds of thousands of fresh tuples and no reference cycle: the cyclic
    # collector would walk them again and again (it halved the speed), so it rests meanwhile.
    with collector_paused():
        return _verify_in_snapshot(window, outside, since)


def _verify_in_snapshot(
    window: int, outside: list[seen.Seen], since: tuple[int, bytes] | None
) -> VerifyResult:
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with transaction.atomic():
            with connection.cursor() as cursor:
                # One snapshot for the whole run while appends go on, shared with the second
                # connection that makes the entry checks' reads (``ChecksAhead``).
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                cursor.execute("SELECT pg_export_snapshot()")
                (snapshot,) = cursor.fetchone()
            return _Verifier(window, outside, snapshot=snapshot, xmin=snapshot_xmin()).run(since)
    with transaction.atomic():
        return _Verifier(window, outside, xmin=snapshot_xmin()).run(since)


def _fetch_checks(start: int, end: int) -> dict[str, Any]:
    """What each registered entry check reads for the window [start, end)."""
    return {kind: check.fetch(start, end) for kind, check in ENTRY_CHECKS.items()}


def entry_interest() -> Interest:
    """The entries whose metadata ``_Verifier._check_entries`` looks at."""
    prefixes = [getattr(c, "prefix", None) for c in ENTRY_CHECKS.values()]
    # Bytes that start like none of the registered kinds (nor an audit event) claim nothing.
    claimed: tuple[bytes, ...] = (
        (*(p for p in prefixes if p is not None), b'{"action":') if None not in prefixes else (b"{",)
    )
    return Interest((*ENTRY_CHECKS, AUDIT_KIND), claimed)


class _Verifier(CheckpointChecks):
    def __init__(
        self, window: int, outside: list[seen.Seen] | None = None, *, snapshot: str | None = None, xmin: int | None = None
    ) -> None:
        self.window = window
        self.outside = outside or []
        self.snapshot = snapshot  # exported by the verifier's transaction: checks read ahead in it
        self.result = VerifyResult(snapshot_xmin=xmin)

    def add(self, index: int | None, message: str) -> None:
        if len(self.result.problems) < MAX_PROBLEMS:
            self.result.problems.append(Problem(index, message))

    def add_row(self, index: int | None, message: str) -> None:
        """A problem an entry check found with the rows copied from entries: every leaf is kept."""
        named = self.result.rows_named
        if index is None or named is None or len(named) >= MAX_ROWS_NAMED:
            self.result.rows_named = None
        else:
            named.add(index)
        self.add(index, message)

    def run(self, since: tuple[int, bytes] | None = None) -> VerifyResult:
        if since is not None and since[0] > 0:
            return self.run_incremental(*since)
        state = LogState.objects.filter(pk=1).first()
        alg = state.hash_alg if state is not None else settings.LEDGER_HASH
        size = state.size if state is not None else 0
        self.hasher = hasher = merkle.hasher(alg)
        self.size = size
        res = self.result
        res.tree_size, res.hash_alg = size, alg

        checkpoint_roots = self._check_checkpoint_signatures(size, state.origin if state else None)
        outside_roots = self._check_outside(size, state, checkpoint_roots)
        wanted = sorted(s for s in checkpoint_roots.keys() | outside_roots.keys() if s > 0)
        recomputed: dict[int, bytes] = {0: hasher.empty}

        with connection.cursor() as cursor:
            cursor.execute("SELECT key, hashes FROM ledger_tile WHERE key >= %s", [UPPER_KEYS])
            self.upper = {}
            for key, data in cursor.fetchall():
                tile = (key >> 48, key & (UPPER_KEYS - 1))
                blob = as_bytes(data)
                if blob is None:
                    self._wrong_tile_type(*tile)
                self.upper[tile] = blob if blob is not None else b""
        self.stored0: dict[int, bytes | None] = {}
        self.seen_upper: set[tiles.TileId] = set()
        builder = tiles.TreeBuilder(hasher)
        next_cp = 0
        windows = full_run_windows(size, self.window)
        with closing(self._read_windows(windows)) as read:
            for start, end, rows, events in read:
                leaves = self._window(start, end, rows, events)
                pos = start
                while next_cp < len(wanted) and wanted[next_cp] <= end:
                    s = wanted[next_cp]
                    self._check_tiles(builder.add(leaves[pos - start : s - start]))
                    pos = s
                    recomputed[s] = builder.root()
                    next_cp += 1
                self._check_tiles(builder.add(leaves[pos - start :]))
        self._check_tiles([(level, index, blob) for (level, index), blob in builder.edge().items()])

        for tile in sorted(set(self.upper) - self.seen_upper):
            self.add(
                tile[1] * tiles.TILE_WIDTH << (tiles.TILE_HEIGHT * tile[0]),
                _("哈希瓦片 %(level)s/%(index)s 超出了日志大小 %(size)s")
                % {"level": tile[0], "index": tile[1], "size": size},
            )
        self._check_around(size)

        root = builder.root()
        res.root_hash = root
        if state is not None and as_bytes(state.root_hash) != root:
            self.add(None, _("日志状态中保存的根哈希与重新计算的根哈希不一致"))
        for s, roots in sorted(checkpoint_roots.items()):
            if s not in recomputed:
                continue
            for cp_id, root_in_note in roots:
                if root_in_note != recomputed[s]:
                    self.add(
                        None,
                        _("检查点 #%(id)s（大小 %(size)s）的根哈希与按保存的哈希重新计算的不一致")
                        % {"id": cp_id, "size": s},
                    )
        for message in cosignature_problems():
            self.add(None, message)
        for s, (where, root_outside) in sorted(outside_roots.items()):
            if s in recomputed and recomputed[s] != root_outside:
                self.add(
                    None,
                    _("保存在数据库之外的检查点（%(where)s，大小 %(size)s）的根哈希与日志重新计算的不一致")
                    % {"where": where, "size": s},
                )
        return res

    def run_incremental(self, old: int, old_root: bytes) -> VerifyResult:
        """Verify the entries after a verified tree of size ``old`` and root ``old_root``.

        The new entries are re-hashed and checked as a full run checks them (their leaf
        hashes in the tiles, their audit events, the rows copied from them); the RFC 9162
        consistency proof from ``old`` to the log's size — its nodes over the old part read
        from the stored tiles, those over the new part computed from the re-hashed entries —
        must link ``old_root`` with the stored root, and with the newest checkpoints. The
        tiles above the new entries and the entries before ``old`` are left to the full run.
        """
        state = LogState.objects.filter(pk=1).first()
        alg = state.hash_alg if state is not None else settings.LEDGER_HASH
        size = state.size if state is not None else 0
        self.hasher = hasher = merkle.hasher(alg)
        self.size = size
        res = self.result
        res.tree_size, res.hash_alg = size, alg
        checkpoint_roots = self._check_checkpoint_signatures(size, state.origin if state else None)
        outside_roots = self._check_outside(size, state, checkpoint_roots)
        if old > size:
            self.add(
                size,
                _("日志只有 %(size)s 条，短于上次校验通过时的 %(old)s 条：日志被截断或回滚")
                % {"size": size, "old": old},
            )
            res.snapshot_xmin = None  # nothing was read: no mark
            return res
        hs = hasher.size
        new_leaves: list[bytes] = []
        first = old - old % self.window
        windows = [(max(s, old), min(s + self.window, size)) for s in range(first, size, self.window)]
        with closing(self._read_windows(windows)) as read:
            for start, end, rows, events in read:
                t0, t1 = start // tiles.TILE_WIDTH, (end - 1) // tiles.TILE_WIDTH
                stored = b"".join(
                    self._stored_hashes(0, t, rows.blobs.get(t)) or b"" for t in range(t0, t1 + 1)
                )
                stored = stored[(start - t0 * tiles.TILE_WIDTH) * hs :]
                datas: Sequence[bytes]
                if len(rows.datas) == end - start:
                    datas = rows.datas
                    leaves = rows.leaves(hasher)
                else:
                    datas, leaves = [], []
                    for i in range(start, end):
                        data = rows.present.get(i)
                        if data is None:
                            self.add(i, _("第 %(index)s 条缺失") % {"index": i})
                            off = (i - start) * hs
                            leaves.append(stored[off : off + hs] if len(stored) >= off + hs else bytes(hs))
                        else:
                            leaves.append(hasher.leaf(data))
                        datas.append(data or b"")
                if b"".join(leaves) != stored[: len(leaves) * hs]:
                    for k, leaf in enumerate(leaves):
                        if stored[k * hs : (k + 1) * hs] != leaf:
                            self.add(start + k, _changed_entry(start + k))
                self._check_audit_events(start, rows.audit_indexes, datas, events)
                new_leaves.extend(leaves)

        def linked(new_size: int, new_root: bytes) -> bool:
            ranges = merkle.consistency_ranges(old, new_size)
            old_parts = [r for r in ranges if r[1] <= old]
            try:
                data = read_tiles(tiles.tiles_needed(old_parts))
                stored_parts = {r: tiles.range_hash(r[0], r[1], data, hasher) for r in old_parts}
            except (tiles.MissingTileError, ValueError):
                return False
            proof = [
                stored_parts[r] if r[1] <= old else hasher.root(new_leaves[r[0] - old : r[1] - old])
                for r in ranges
            ]
            return merkle.verify_consistency(old, new_size, old_root, new_root, proof, alg)

        state_root = as_bytes(state.root_hash) if state is not None else hasher.empty
        if not linked(size, state_root or b""):
            self.add(
                None,
                _("第 %(old)s 条之后新增的日志与上次校验通过的检查点（大小 %(old)s）不一致") % {"old": old},
            )
        newest = max((s for s in checkpoint_roots.keys() | outside_roots.keys() if s > old), default=None)
        if newest is not None:
            roots = [r for _id, r in checkpoint_roots.get(newest, [])]
            if newest in outside_roots:
                roots.append(outside_roots[newest][1])
            for root in roots:
                if not linked(newest, root):
                    self.add(
                        None,
                        _("大小 %(size)s 的检查点与上次校验通过的检查点（大小 %(old)s）不一致")
                        % {"size": newest, "old": old},
                    )
        self._check_around(size)
        self._recheck_since_mark(old)
        res.root_hash = state_root or b""
        return res

    def _recheck_since_mark(self, old: int) -> None:
        """The entries below ``old`` rewritten since the last mark, and the rows of entries below
        ``old`` it does not vouch for, checked as a full run checks them; the run then marks the
        rows it read. With no usable mark it makes none: old entries are left to the full run."""
        verified = last_verified() if self.result.snapshot_xmin is not None else None
        if verified is None:
            self.result.snapshot_xmin = None
            return
        rewritten = rewritten_entries(old, verified, self.hasher)[1]
        for leaf in rewritten:
            self.add(leaf, _changed_entry(leaf))
        if rewritten:  # no mark over them: the next run finds them again
            self.result.snapshot_xmin = None
        for check in ENTRY_CHECKS.values():
            for index, message in check.recheck(old, verified):
                self.add_row(index, message)

    def _read_windows(
        self, windows: list[tuple[int, int]]
    ) -> Generator[tuple[int, int, WindowRows, dict[int, AuditEvent]], None, None]:
        """Each window's entries and audit events, with the rows copied from its entries checked
        (on PostgreSQL the checks' reads made ahead, ``ChecksAhead``). Close it to stop those."""
        ahead = ChecksAhead(self.snapshot, windows, _fetch_checks) if self.snapshot and windows else None
        interest = entry_interest()
        try:
            for start, end in windows:
                rows = read_window(start, end, interest)
                events = self._events(start, end)
                fetched = ahead.take(start, end) if ahead is not None else _fetch_checks(start, end)
                self._check_entries(rows, events, fetched)
                yield start, end, rows, events
        finally:
            if ahead is not None:
                ahead.close()

    def _check_around(self, size: int) -> None:
        """What lies around the entries: anything beyond the log's size, audit events with no
        entry, and the tables checked against their entries."""
        self._check_beyond(size)
        for check in ENTRY_CHECKS.values():
            for beyond_index, message in check.beyond(size):
                self.add_row(beyond_index, message)
        self._check_unlogged_events()
        for table_check in TABLE_CHECKS:
            for table_index, message in table_check(size):
                self.add(table_index, message)

    def _check_entries(
        self, rows: WindowRows, events: dict[int, AuditEvent], fetched: dict[str, Any]
    ) -> None:
        """Each entry's stored type and metadata, and the rows other apps copy from entries."""
        for index in rows.wrong_type:
            self.add(index, _("第 %(index)s 条保存的不是二进制数据（列类型被改动）") % {"index": index})
        by_kind: dict[str, list[EntryMeta]] = {kind: [] for kind in ENTRY_CHECKS}
        claimed = entry_interest().claimed
        # The window's entries split by kind with C-level passes (a kind at a time), not a
        # Python step per entry; the problems are then reported in leaf order, as one pass would.
        metas = rows.metas
        kinds = list(map(itemgetter(1), metas))
        found: list[tuple[int, str]] = []
        others: list[tuple[Any, ...]] = []
        for kind in set(kinds):
            of_kind = compress(metas, map(eq, repeat(kind), kinds))  # in leaf order
            mine = by_kind.get(kind)
            if mine is not None:
                mine.extend(map(EntryMeta._make, of_kind))
            elif kind == AUDIT_KIND:
                for leaf, _kind, enterprise_id, provider_id, _data in of_kind:
                    event = events.get(leaf)
                    if event is not None and (
                        enterprise_id != event.enterprise_id_ref or provider_id is not None
                    ):
                        found.append(
                            (
                                leaf,
                                _("第 %(index)s 条记录的相关企业或算力提供方与其审计事件 #%(id)s 不符")
                                % {"index": leaf, "id": event.pk},
                            )
                        )
            else:
                others.extend(of_kind)
        if others:
            # Bytes that start like none of the registered kinds (nor an audit event) claim nothing.
            starts = map(methodcaller("startswith", claimed), map(itemgetter(4), others))
            for leaf, kind, _enterprise_id, _provider_id, data in compress(others, starts):
                actual = next((c.kind for c in ENTRY_CHECKS.values() if c.claims(data)), None)
                if actual is None and _looks_like_audit_entry(data):
                    actual = AUDIT_KIND
                if actual is not None:
                    found.append(
                        (
                            leaf,
                            _("第 %(index)s 条的类型“%(kind)s”与其内容（%(actual)s）不符")
                            % {"index": leaf, "kind": kind, "actual": actual},
                        )
                    )
        for leaf, message in sorted(found, key=itemgetter(0)):
            self.add(leaf, message)
        for kind, check in ENTRY_CHECKS.items():
            for problem_index, message in check.check(fetched[kind], by_kind[kind]):
                self.add_row(problem_index, message)

    def _stored_hashes(self, level: int, index: int, blob: bytes | None) -> bytes | None:
        """The tile's own hashes, or None (with a problem) if the stored tile is damaged."""
        if blob is None:
            return None
        try:
            return tiles.tile_hashes(blob, self.hasher.size)
        except ValueError:
            first = index * tiles.TILE_WIDTH << (tiles.TILE_HEIGHT * level)
            self.add(first, _("哈希瓦片 %(level)s/%(index)s 已损坏") % {"level": level, "index": index})
            return None

    def _window(self, start: int, end: int, rows: WindowRows, events: dict[int, AuditEvent]) -> list[bytes]:
        """Check entries [start, end) against their level-0 tiles and audit events.

        Returns the leaf hashes to build the upper layers from: the stored ones, except
        where the layer above shows that the stored tile, not the entry, was changed.
        """
        hasher = self.hasher
        hs = hasher.size
        t0, t1 = start // tiles.TILE_WIDTH, (end - 1) // tiles.TILE_WIDTH
        datas, present, audit_indexes, blobs = rows.datas, rows.present, rows.audit_indexes, rows.blobs
        complete = len(datas) == end - start
        self.stored0 = blobs
        for t, blob in blobs.items():
            if blob is None:
                self._wrong_tile_type(0, t)
        stored = {t: self._stored_hashes(0, t, blobs.get(t)) for t in range(t0, t1 + 1)}
        stored_concat = b"".join(stored[t] or b"" for t in range(t0, t1 + 1))

        if complete:
            leaves = rows.leaves(hasher)
        else:
            leaves = []
            by_index: dict[int, bytes] = {}
            for i in range(start, end):
                data = present.get(i)
                if data is not None:
                    by_index[i] = data
                    leaves.append(hasher.leaf(data))
                    continue
                self.add(i, _("第 %(index)s 条缺失") % {"index": i})
                off = (i - start) * hs
                leaves.append(stored_concat[off : off + hs] if len(stored_concat) >= off + hs else bytes(hs))
            datas = [by_index.get(i, b"") for i in range(start, end)]

        tree_leaves = leaves
        if b"".join(leaves) != stored_concat:
            tree_leaves = []
            for t in range(t0, t1 + 1):
                lo = t * tiles.TILE_WIDTH - start
                mine_list = leaves[lo : lo + tiles.TILE_WIDTH]
                mine = b"".join(mine_list)
                theirs = stored[t]
                tile_is_wrong = (
                    theirs is None or len(theirs) < len(mine) or self._parent_matches(t, mine_list)
                )
                # Build the upper layers from whichever of the two the layer above agrees with
                # (the stored tile unless it is the one that was changed), so that a change is
                # reported once, at the layer where it was made.
                tree_leaves.extend(
                    mine_list if tile_is_wrong else tiles.split_hashes((theirs or b"")[: len(mine)], hs)
                )
                if theirs == mine:
                    continue
                if theirs is None:
                    if t in blobs:
                        continue  # damaged, reported
                    self.add(start + lo, _("哈希瓦片 0/%(index)s 缺失") % {"index": t})
                    continue
                bad = next(
                    (k for k in range(0, len(mine), hs) if theirs[k : k + hs] != mine[k : k + hs]),
                    len(mine),
                )
                index = start + lo + bad // hs
                if index >= self.size:
                    self.add(index, _("哈希瓦片 0/%(index)s 含有超出日志大小的哈希") % {"index": t})
                elif tile_is_wrong:
                    self.add(
                        index,
                        _("第 %(index)s 条在哈希瓦片 0/%(tile)s 中的叶哈希被改动")
                        % {"index": index, "tile": t},
                    )
                else:
                    self.add(index, _changed_entry(index))
        self._check_audit_events(start, audit_indexes, datas, events)
        return tree_leaves

    def _parent_matches(self, tile_index: int, leaves: list[bytes]) -> bool:
        """True if the stored level-1 hash above level-0 tile ``tile_index`` is the root of ``leaves``."""
        if len(leaves) != tiles.TILE_WIDTH:
            return False
        blob = self.upper.get((1, tile_index // tiles.TILE_WIDTH))
        try:
            parent = tiles.tile_node(blob, 0, tile_index % tiles.TILE_WIDTH, self.hasher) if blob else None
        except ValueError:
            return False
        return parent == self.hasher.root(leaves)

    def _events(self, start: int, end: int) -> dict[int, AuditEvent]:
        window = AuditEvent.objects.filter(leaf_index__gte=start, leaf_index__lt=end)
        try:
            with transaction.atomic():
                return {e.leaf_index: e for e in window if e.leaf_index is not None}
        except (ValueError, TypeError, ArithmeticError, DatabaseError):
            pass
        # A column holds something its type cannot (a JSON column turned text): read one by one.
        events: dict[int, AuditEvent] = {}
        for pk, index in window.values_list("pk", "leaf_index"):
            try:
                with transaction.atomic():
                    event = AuditEvent.objects.get(pk=pk)
            except (ValueError, TypeError, ArithmeticError, DatabaseError):
                self.add(index, _("审计事件 #%(id)s 无法读取（字段内容被改动）") % {"id": pk})
                continue
            if index is not None:
                events[index] = event
        return events

    def _check_audit_events(
        self, start: int, audit_indexes: list[int], datas: Sequence[bytes], events: dict[int, AuditEvent]
    ) -> None:
        for index in audit_indexes:
            event = events.pop(index, None)
            if event is None:
                self.add(index, _("第 %(index)s 条审计日志对应的审计事件缺失") % {"index": index})
            elif audit_entry_bytes(event) != datas[index - start]:
                self.add(
                    index,
                    _("审计事件 #%(id)s 与第 %(index)s 条日志内容不一致") % {"id": event.pk, "index": index},
                )
        for index, event in sorted(events.items()):
            self.add(
                index,
                _("审计事件 #%(id)s 指向的第 %(index)s 条不是审计日志") % {"id": event.pk, "index": index},
            )
