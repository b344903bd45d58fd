"""``yingdu ledger export DIR``: write the log in the C2SP tlog-tiles layout (see ``ledger.offline``)."""

from __future__ import annotations

import json
from pathlib import Path

from django.db import connection

from ledger import services, tiles, witnessing
from ledger.actions import sign_checkpoint
from ledger.note import Checkpoint, parse_checkpoint, parse_note

ENTRY_WINDOW = 1 << 16


def _write(base: Path, rel: str, data: bytes) -> None:
    path = base / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def export_log(directory: str | Path) -> Checkpoint:
    """Sign a checkpoint for the current size and export the log up to it; returns the checkpoint."""
    note_text = sign_checkpoint()
    cp = parse_checkpoint(parse_note(note_text).text)
    base = Path(directory)
    base.mkdir(parents=True, exist_ok=True)
    size = cp.size
    with connection.cursor() as cursor:
        level = 0
        while tiles.level_width(size, level) > 0:
            cursor.execute(
                "SELECT key, hashes FROM ledger_tile WHERE key >= %s AND key < %s ORDER BY key",
                [tiles.tile_key(level, 0), tiles.tile_key(level + 1, 0)],
            )
            while rows := cursor.fetchmany(1000):
                for key, data in rows:
                    index = key - tiles.tile_key(level, 0)
                    width = tiles.tile_width(size, level, index)
                    if width:
                        _write(
                            base,
                            tiles.tile_path(level, index, width),
                            tiles.tile_hashes(bytes(data))[: width * 32],
                        )
            level += 1
        for start in range(0, size, ENTRY_WINDOW):
            end = min(start + ENTRY_WINDOW, size)
            cursor.execute(
                "SELECT data FROM ledger_entry WHERE leaf_index >= %s AND leaf_index < %s ORDER BY leaf_index",
                [start, end],
            )
            datas = [bytes(d) for (d,) in cursor.fetchall()]
            for offset in range(0, len(datas), tiles.TILE_WIDTH):
                index = (start + offset) // tiles.TILE_WIDTH
                bundle = datas[offset : offset + tiles.TILE_WIDTH]
                _write(base, tiles.entries_path(index, len(bundle)), tiles.encode_bundle(bundle))
    info = {
        "origin": cp.origin,
        "hash": services.hash_alg(),
        "tree_size": size,
        "verifier_key": services.verifier_key(),
    }
    _write(base, "yingdu-ledger.json", json.dumps(info, ensure_ascii=False, indent=2).encode())
    _write(base, "checkpoint", note_text.encode())
    for rel, data in witnessing.export_files(size).items():
        _write(base, rel, data)
    return cp
