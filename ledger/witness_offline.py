"""Offline check of an export's witnessed checkpoint (no database, no Django; see ``ledger.offline``).

When an export carries ``witness-policy`` and ``checkpoint.witnessed`` (``ledger.witnessing``),
the witnessed checkpoint must carry the log's signature, cosignatures that meet the policy's
quorum (each checked against its witness's key), and the root recomputed from the exported
entries at its size.
"""

from __future__ import annotations

from pathlib import Path

from ledger import merkle, tiles
from witness.notes import FormatError, parse_vkey
from witness.policy import check_cosigned_checkpoint, parse_policy

POLICY_FILE = "witness-policy"
WITNESSED_FILE = "checkpoint.witnessed"


def _root_at(base: Path, size: int, hash_alg: str) -> bytes | None:
    hasher = merkle.hasher(hash_alg)
    leaves: list[bytes] = []
    for n in range((size + tiles.TILE_WIDTH - 1) // tiles.TILE_WIDTH):
        full = tiles.TILE_WIDTH if (n + 1) * tiles.TILE_WIDTH <= size else None
        # The export cuts bundles at its own size; a partial one at the witnessed size may be full there.
        candidates = [tiles.entries_path(n)] if full else [tiles.entries_path(n, w) for w in range(1, 257)]
        for rel in candidates:
            path = base / rel
            if path.is_file():
                try:
                    entries = tiles.decode_bundle(path.read_bytes())
                except ValueError:
                    return None
                leaves += hasher.leaves(entries)
                break
        else:
            return None
    return hasher.root(leaves[:size]) if len(leaves) >= size else None


def check_export(base: Path, key: str, hash_alg: str) -> list[str]:
    """Problems with the export's witnessed checkpoint (none when the export has no witness files)."""
    policy_path, witnessed_path = base / POLICY_FILE, base / WITNESSED_FILE
    if not policy_path.is_file():
        return []
    try:
        policy = parse_policy(policy_path.read_text(encoding="utf-8"))
        if not witnessed_path.is_file():
            return ["缺少已见证的检查点文件 checkpoint.witnessed"]
        checked = check_cosigned_checkpoint(
            witnessed_path.read_text(encoding="utf-8"), policy, [parse_vkey(key, 0x01)]
        )
    except (FormatError, UnicodeDecodeError, OSError) as exc:
        return [f"已见证的检查点被拒绝：{exc}"]
    problems = []
    if not checked.quorum_met:
        problems.append("已见证的检查点的有效副署未达到见证策略的法定数")
    cp = checked.checkpoint
    if _root_at(base, cp.size, hash_alg) != cp.root_hash:
        problems.append(f"已见证的检查点（大小 {cp.size}）的根哈希与由条目重新计算的不一致")
    return problems
