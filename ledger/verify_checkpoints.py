"""The checks of ``ledger.verify`` that read what lies around the entries: the stored tiles
against those recomputed, the signed checkpoints (in the database and kept outside it), entries,
tiles and audit events beyond the log's size, and audit events with no entry. A mixin of the
verifier, which supplies ``add``, ``result``, ``outside`` and the tiles it has read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import connection
from django.utils.translation import gettext as _

from ledger import keys, merkle, seen, tiles
from ledger.models import AuditEvent, Checkpoint, LogState
from ledger.note import NoteError, open_checkpoint
from ledger.windows import as_bytes

if TYPE_CHECKING:
    from ledger.verify_result import VerifyResult

UPPER_KEYS = 1 << 48  # tile keys of level ≥ 1 start here (tiles.tile_key)


def _node_first_index(level: int, index: int, width: int, offset: int) -> int:
    """The first entry under the node stored at hash ``offset`` of tile (level, index) of ``width``."""
    height, j = tiles.node_at_offset(width, offset)
    return (index * tiles.TILE_WIDTH + (j << height)) << (tiles.TILE_HEIGHT * level)


class CheckpointChecks:
    outside: list[seen.Seen]
    result: VerifyResult
    hasher: merkle.Hasher
    stored0: dict[int, bytes | None]
    upper: dict[tiles.TileId, bytes]
    seen_upper: set[tiles.TileId]

    def add(self, index: int | None, message: str) -> None:
        raise NotImplementedError

    def _check_outside(
        self, size: int, state: LogState | None, in_database: dict[int, list[tuple[int, bytes]]]
    ) -> dict[int, tuple[str, bytes]]:
        """The checkpoints kept outside the database: signed by the key, for this log, not beyond
        the log, and (the file beside the key) still in the database. Returns their roots by size."""
        verifier = keys.signer().verifier
        roots: dict[int, tuple[str, bytes]] = {}
        for kept in self.outside:
            try:
                cp = open_checkpoint(kept.note, verifier, state.origin if state else None)
            except NoteError as exc:
                self.add(
                    None,
                    _("保存在数据库之外的检查点（%(where)s）被拒绝：%(error)s")
                    % {"where": kept.where, "error": exc},
                )
                continue
            if kept.log_id is not None and (state is None or kept.log_id != state.log_id):
                self.add(
                    None,
                    _("保存在数据库之外的检查点（%(where)s）属于另一个日志（日志标识被改动，或数据库被替换）")
                    % {"where": kept.where},
                )
                continue
            if cp.size > size:
                self.add(
                    size,
                    _(
                        "日志只有 %(size)s 条，短于保存在数据库之外的检查点（%(where)s）的 %(cp)s 条："
                        "日志被截断或回滚"
                    )
                    % {"size": size, "where": kept.where, "cp": cp.size},
                )
                continue
            if kept.log_id is not None and cp.size not in in_database:
                self.add(
                    None,
                    _("保存在数据库之外的检查点（%(where)s，大小 %(size)s）在数据库中缺失（被删除）")
                    % {"where": kept.where, "size": cp.size},
                )
            roots[cp.size] = (kept.where, cp.root_hash)
        return roots

    def _check_checkpoint_signatures(
        self, size: int, origin: str | None
    ) -> dict[int, list[tuple[int, bytes]]]:
        verifier = keys.signer().verifier
        roots: dict[int, list[tuple[int, bytes]]] = {}
        rows = Checkpoint.objects.order_by("tree_size", "id").values_list(
            "id", "tree_size", "root_hash", "note"
        )
        for cp_id, tree_size, root_hash, note in rows.iterator(chunk_size=2000):
            self.result.checkpoints_checked += 1
            try:
                if not isinstance(note, str):
                    raise NoteError(_("签名检查点不是文本"))
                cp = open_checkpoint(note, verifier, origin)
            except NoteError as exc:
                self.add(
                    None,
                    _("检查点 #%(id)s（大小 %(size)s）被拒绝：%(error)s")
                    % {"id": cp_id, "size": tree_size, "error": exc},
                )
                continue
            if cp.size != tree_size or cp.root_hash != as_bytes(root_hash):
                self.add(None, _("检查点 #%(id)s 的记录与其签名内容不一致") % {"id": cp_id})
            if cp.size > size:
                self.add(
                    size,
                    _("检查点 #%(id)s 的大小 %(cp)s 超出日志大小 %(size)s：第 %(size)s 条起的条目缺失")
                    % {"id": cp_id, "cp": cp.size, "size": size},
                )
                continue
            roots.setdefault(cp.size, []).append((cp_id, cp.root_hash))
        return roots

    def _check_beyond(self, size: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT MIN(leaf_index) FROM ledger_entry WHERE leaf_index >= %s", [size])
            (extra,) = cursor.fetchone() or (None,)
            first_tile = (size + tiles.TILE_WIDTH - 1) // tiles.TILE_WIDTH
            cursor.execute(
                "SELECT MIN(key) FROM ledger_tile WHERE key >= %s AND key < %s",
                [tiles.tile_key(0, first_tile), UPPER_KEYS],
            )
            (extra_tile,) = cursor.fetchone() or (None,)
        if extra is not None:
            self.add(
                extra,
                _("第 %(index)s 条超出了日志大小 %(size)s（被插入的条目）") % {"index": extra, "size": size},
            )
        if extra_tile is not None:
            self.add(
                extra_tile * tiles.TILE_WIDTH,
                _("哈希瓦片 0/%(index)s 超出了日志大小 %(size)s") % {"index": extra_tile, "size": size},
            )
        beyond = AuditEvent.objects.filter(leaf_index__gte=size).order_by("leaf_index").first()
        if beyond is not None:
            self.add(
                beyond.leaf_index,
                _("审计事件 #%(id)s 指向不存在的第 %(index)s 条")
                % {"id": beyond.pk, "index": beyond.leaf_index},
            )

    def _check_unlogged_events(self) -> None:
        for event in AuditEvent.objects.filter(leaf_index__isnull=True).order_by("id")[:20]:
            self.add(None, _("审计事件 #%(id)s 没有对应的日志条目（被插入的记录）") % {"id": event.pk})

    def _wrong_tile_type(self, level: int, index: int) -> None:
        first = index * tiles.TILE_WIDTH << (tiles.TILE_HEIGHT * level)
        self.add(
            first,
            _("哈希瓦片 %(level)s/%(index)s 保存的不是二进制数据（列类型被改动）")
            % {"level": level, "index": index},
        )

    def _check_tiles(self, built: list[tuple[int, int, bytes]]) -> None:
        """Compare recomputed tiles with the stored ones (for level 0, only the inner nodes)."""
        hs = self.hasher.size
        for level, index, blob in built:
            if level == 0:
                stored = self.stored0.get(index)
                width = tiles.stored_width(blob, hs)
                if stored is None or len(stored) != len(blob):
                    continue  # missing or damaged, reported with the entries
                mine, theirs, skip = blob[width * hs :], stored[width * hs :], width
            else:
                self.seen_upper.add((level, index))
                stored = self.upper.get((level, index))
                if stored == blob:
                    continue
                width = tiles.stored_width(blob, hs)
                if stored is None:
                    first = index * tiles.TILE_WIDTH << (tiles.TILE_HEIGHT * level)
                    self.add(
                        first,
                        _("哈希瓦片 %(level)s/%(index)s 缺失（涉及第 %(first)s 条起的条目）")
                        % {"level": level, "index": index, "first": first},
                    )
                    continue
                mine, theirs, skip = blob, stored, 0
            if mine == theirs:
                continue
            bad = next(
                (k // hs for k in range(0, len(mine), hs) if theirs[k : k + hs] != mine[k : k + hs]),
                len(mine) // hs,
            )
            first = _node_first_index(level, index, width, skip + bad)
            self.add(
                first,
                _("哈希瓦片 %(level)s/%(index)s 与下层重新计算的不一致（涉及第 %(first)s 条起的条目）")
                % {"level": level, "index": index, "first": first},
            )
