"""Offline verification: an exported log directory and single receipts, with nothing but the public key.

No database and no Django: a provider, an enterprise or an outside auditor can run
``python -m ledger.offline audit DIR --key KEY`` or
``python -m ledger.offline verify-receipt FILE --key KEY`` with a ``ledger/``
directory holding an empty ``__init__.py``, this file, ``merkle.py``, ``note.py``,
``tiles.py`` and ``witness_offline.py``, and the ``witness/`` package beside it (Python 3.11
and ``cryptography``). ``yingdu ledger audit`` and ``yingdu ledger verify-receipt`` call the
same functions. An export with ``witness-policy`` and ``checkpoint.witnessed`` also has its
witnessed checkpoint checked (``ledger.witness_offline``).

Export directory (C2SP tlog-tiles layout, https://c2sp.org/tlog-tiles)::

    checkpoint                      the signed checkpoint the export is cut at
    tile/<L>/<N>[.p/<W>]            hash tiles
    tile/entries/<N>[.p/<W>]        entry bundles (uint16 big-endian length ‖ entry)
    yingdu-ledger.json              {"origin", "hash": "sha256"|"sm3", "tree_size", "verifier_key"}
                                    (informative; the key given on the command line is what counts)

Receipt (JSON; what the platform answers for each accepted usage record)::

    {
      "leaf_index": 41,                      # position of the entry in the log
      "tree_size": 42,                       # size of the tree the proof is for (= the checkpoint's)
      "entry": "<base64 of the exact entry bytes>",   # or "leaf_hash": "<base64>" instead
      "inclusion_path": ["<base64 hash>", …], # RFC 9162 inclusion proof, bottom up
      "checkpoint": "<signed note text>",     # C2SP tlog-checkpoint, signed by the platform
      "hash": "sha256"                        # optional, "sha256" (default) or "sm3"
    }

Messages are Chinese like the rest of the platform, but plain strings: this module must
run without Django, so it cannot use its translation machinery.

A receipt verifies when the checkpoint carries a valid signature by the given
key, its size equals ``tree_size``, and the inclusion proof leads from the
leaf hash to the checkpoint's root. A file may hold one receipt, a list of
them, or ``{"receipts": [...]}``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger import merkle, tiles, witness_offline
from ledger.note import NoteError, open_checkpoint

INFO_FILE = "yingdu-ledger.json"


@dataclass
class AuditResult:
    """The outcome of auditing an export; ``problems`` name the first bad index where one can be named."""

    ok: bool
    tree_size: int = 0
    root_hash: bytes = b""
    hash_alg: str = "sha256"
    problems: list[str] = field(default_factory=list)


def _read(base: Path, rel: str) -> bytes | None:
    path = base / rel
    return path.read_bytes() if path.is_file() else None


def audit_export(directory: str | Path, key: str, hash_alg: str | None = None) -> AuditResult:
    """Recompute an exported log from its entries and check it against its signed checkpoint."""
    base = Path(directory)
    raw_checkpoint = _read(base, "checkpoint")
    if raw_checkpoint is None:
        return AuditResult(False, problems=["缺少 checkpoint 文件"])
    try:
        cp = open_checkpoint(raw_checkpoint.decode(), key)
    except (NoteError, UnicodeDecodeError) as exc:
        return AuditResult(False, problems=[f"检查点被拒绝：{exc}"])
    if hash_alg is None:
        info_raw = _read(base, INFO_FILE)
        info = json.loads(info_raw) if info_raw else {}
        hash_alg = str(info.get("hash", "sha256"))
    try:
        hasher = merkle.hasher(hash_alg)
    except ValueError as exc:
        return AuditResult(False, problems=[str(exc)])
    result = AuditResult(True, cp.size, cp.root_hash, hash_alg)
    hs = hasher.size

    def fail(message: str) -> None:
        result.ok = False
        result.problems.append(message)

    builder = tiles.TreeBuilder(hasher)
    recomputed: dict[tuple[int, int], bytes] = {}
    n_bundles = (cp.size + tiles.TILE_WIDTH - 1) // tiles.TILE_WIDTH
    for n in range(n_bundles):
        width = tiles.tile_width(cp.size, 0, n)
        first = n * tiles.TILE_WIDTH
        bundle = _read(base, tiles.entries_path(n, width))
        if bundle is None:
            fail(f"第 {first} 条：缺少条目包 {tiles.entries_path(n, width)}")
            return result
        try:
            entries = tiles.decode_bundle(bundle)
        except ValueError:
            entries = []
        if len(entries) != width:
            fail(f"第 {first} 条：条目包 {tiles.entries_path(n, width)} 已损坏")
            return result
        leaf_hashes = hasher.leaves(entries)
        stored = _read(base, tiles.tile_path(0, n, width))
        if stored != b"".join(leaf_hashes):
            if stored is None:
                fail(f"第 {first} 条：缺少哈希瓦片 {tiles.tile_path(0, n, width)}")
            else:
                stored_hashes = tiles.split_hashes(stored, hs)
                bad = next(
                    (
                        i
                        for i, h in enumerate(leaf_hashes)
                        if i >= len(stored_hashes) or stored_hashes[i] != h
                    ),
                    len(leaf_hashes),
                )
                fail(f"第 {first + bad} 条：叶哈希与哈希瓦片 {tiles.tile_path(0, n, width)} 不符")
        for level, index, blob in builder.add(leaf_hashes):
            if level > 0:
                recomputed[(level, index)] = tiles.tile_hashes(blob, hs)
    for (level, index), blob in builder.edge().items():
        if level > 0:
            recomputed[(level, index)] = tiles.tile_hashes(blob, hs)
    for (level, index), data in sorted(recomputed.items()):
        width = len(data) // hs
        stored = _read(base, tiles.tile_path(level, index, width))
        if stored != data:
            first = index * tiles.TILE_WIDTH << (tiles.TILE_HEIGHT * level)
            fail(f"第 {first} 条起：哈希瓦片 {tiles.tile_path(level, index, width)} 缺失或与重新计算的不符")
    root = builder.root()
    if root != cp.root_hash:
        mine, signed = base64.b64encode(root).decode(), base64.b64encode(cp.root_hash).decode()
        fail(f"由条目重新计算的根哈希 {mine} 与签名检查点中的 {signed} 不一致")
    for problem in witness_offline.check_export(base, key, hash_alg):
        fail(problem)
    return result


@dataclass
class ReceiptResult:
    ok: bool
    leaf_index: int | None = None
    tree_size: int | None = None
    problem: str = ""


def _b64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError("expected a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"invalid base64 {value!r}") from exc


def verify_receipt(receipt: dict[str, Any], key: str) -> ReceiptResult:
    """Check one receipt (format in the module docstring) against the verifier key."""
    try:
        index = int(receipt["leaf_index"])
        size = int(receipt["tree_size"])
        alg = str(receipt.get("hash", "sha256"))
        h = merkle.hasher(alg)
        if "entry" in receipt:
            leaf = h.leaf(_b64(receipt["entry"]))
            if "leaf_hash" in receipt and _b64(receipt["leaf_hash"]) != leaf:
                return ReceiptResult(False, index, size, "leaf_hash 与 entry 不符")
        else:
            leaf = _b64(receipt["leaf_hash"])
        path = [_b64(p) for p in receipt["inclusion_path"]]
        checkpoint_text = receipt["checkpoint"]
    except (KeyError, TypeError, ValueError) as exc:
        return ReceiptResult(False, problem=f"回执格式错误：{exc}")
    try:
        cp = open_checkpoint(str(checkpoint_text), key)
    except NoteError as exc:
        return ReceiptResult(False, index, size, f"检查点被拒绝：{exc}")
    if cp.size != size:
        return ReceiptResult(False, index, size, f"tree_size {size} 与检查点的树大小 {cp.size} 不一致")
    if not merkle.verify_inclusion(leaf, index, size, path, cp.root_hash, alg):
        return ReceiptResult(False, index, size, "包含性证明与检查点的根哈希不符")
    return ReceiptResult(True, index, size)


def load_receipts(path: str | Path) -> list[dict[str, Any]]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, dict) and isinstance(data.get("receipts"), list):
        data = data["receipts"]
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ValueError("a receipt file holds a receipt object or a list of them")
    return data


def read_key(value: str) -> str:
    """A verifier key given inline or as the path of a file holding it."""
    path = Path(value)
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    return value.strip()


def run_audit(directory: str, key: str, hash_alg: str | None, out: Any) -> int:
    result = audit_export(directory, read_key(key), hash_alg)
    if result.ok:
        out.write(
            f"OK {result.tree_size} 条，根哈希 {base64.b64encode(result.root_hash).decode()}（{result.hash_alg}）\n"
        )
        return 0
    for problem in result.problems:
        out.write(f"FAIL {problem}\n")
    return 1


def run_verify_receipt(path: str, key: str, out: Any) -> int:
    try:
        receipts = load_receipts(path)
    except (OSError, ValueError) as exc:
        out.write(f"FAIL 无法读取回执：{exc}\n")
        return 1
    vkey = read_key(key)
    status = 0
    for r in receipts:
        res = verify_receipt(r, vkey)
        if res.ok:
            out.write(f"OK 第 {res.leaf_index} 条在大小为 {res.tree_size} 的日志中\n")
        else:
            status = 1
            out.write(f"FAIL 第 {res.leaf_index} 条：{res.problem}\n")
    return status


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ledger-offline", description="不依赖平台与数据库，离线核验不可篡改日志。"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_audit = sub.add_parser("audit", help="核验导出的日志目录")
    p_audit.add_argument("directory")
    p_audit.add_argument("--key", required=True, help="验证公钥，或保存公钥的文件")
    p_audit.add_argument("--hash", choices=merkle.ALGORITHMS, default=None)
    p_receipt = sub.add_parser("verify-receipt", help="核验回执文件")
    p_receipt.add_argument("file")
    p_receipt.add_argument("--key", required=True, help="验证公钥，或保存公钥的文件")
    args = parser.parse_args(argv)
    if args.command == "audit":
        return run_audit(args.directory, args.key, args.hash, sys.stdout)
    return run_verify_receipt(args.file, args.key, sys.stdout)


if __name__ == "__main__":
    raise SystemExit(main())
