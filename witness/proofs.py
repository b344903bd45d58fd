"""C2SP tlog-proof: a self-contained, offline-verifiable proof that an entry is in the log.

Layout (``.tlog-proof``)::

    c2sp.org/tlog-proof@v1
    extra <base64 of the entry's exact bytes>
    index <leaf index>
    <base64 inclusion-proof hash>      (zero or more, from the leaf's sibling upward)

    <the signed checkpoint with its cosignatures>

The platform puts the logged entry itself in the ``extra`` line, so one file says what was
logged; the verifier hashes it as the leaf. The proof holds when the checkpoint is signed by
the log's key, its cosignatures meet the policy's quorum, and the inclusion proof leads from
the entry's leaf hash to the checkpoint's root. Nothing else is trusted (the extra data is
only believed because its hash is proven).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from witness import merkle
from witness.notes import FormatError, b64, b64decode, parse_size, parse_vkey
from witness.policy import Policy, check_cosigned_checkpoint, parse_policy

HEADER = "c2sp.org/tlog-proof@v1"
EXTENSION = ".tlog-proof"


@dataclass(frozen=True)
class TlogProof:
    index: int
    proof: tuple[bytes, ...]
    checkpoint: str
    extra: bytes | None = None


def format_proof(index: int, proof: Sequence[bytes], checkpoint: str, extra: bytes | None = None) -> str:
    lines = [HEADER]
    if extra is not None:
        lines.append(f"extra {b64(extra)}")
    lines.append(f"index {index}")
    lines += [b64(h) for h in proof]
    return "\n".join(lines) + "\n\n" + checkpoint


def parse_proof(text: str) -> TlogProof:
    head, sep, checkpoint = text.partition("\n\n")
    if not sep:
        raise FormatError("no empty line before the checkpoint")
    lines = head.split("\n")
    if lines[0] != HEADER:
        raise FormatError(f"the first line must be {HEADER}")
    rest = lines[1:]
    extra = None
    if rest and rest[0].startswith("extra "):
        extra = b64decode(rest[0][6:])
        rest = rest[1:]
    if not rest or not rest[0].startswith("index "):
        raise FormatError("missing index line")
    index = parse_size(rest[0][6:])
    proof = tuple(b64decode(line) for line in rest[1:])
    if any(len(p) != merkle.HASH_SIZE for p in proof):
        raise FormatError("an inclusion proof hash is not 32 bytes")
    return TlogProof(index, proof, checkpoint, extra)


@dataclass
class ProofResult:
    ok: bool
    problems: list[str] = field(default_factory=list)
    index: int = -1
    tree_size: int = 0
    cosigned: dict[str, int] = field(default_factory=dict)
    entry: bytes = b""


def verify_proof(
    text: str | bytes,
    policy: Policy,
    log_keys: Sequence[str] = (),
    entry: bytes | None = None,
    hash_alg: str = "sha256",
) -> ProofResult:
    """Check a tlog-proof against the log key(s) and the policy; ``entry`` overrides the extra data."""
    result = ProofResult(False)
    try:
        raw = text.decode("utf-8") if isinstance(text, bytes) else text
        proof = parse_proof(raw)
        checked = check_cosigned_checkpoint(proof.checkpoint, policy, [parse_vkey(k, 0x01) for k in log_keys])
    except (FormatError, UnicodeDecodeError) as exc:
        result.problems.append(f"证明文件无效：{exc}")
        return result
    result.index, result.tree_size, result.cosigned = proof.index, checked.checkpoint.size, checked.cosigned
    if not checked.quorum_met:
        result.problems.append("检查点的见证副署未达到策略规定的法定数")
    data = entry if entry is not None else proof.extra
    if data is None:
        result.problems.append("证明文件不含条目内容，请另行提供条目")
        return result
    result.entry = data
    leaf = merkle.leaf_hash(data, hash_alg)
    if not merkle.verify_inclusion(
        leaf, proof.index, checked.checkpoint.size, proof.proof, checked.checkpoint.root_hash, hash_alg
    ):
        result.problems.append(f"条目 #{proof.index} 的包含证明与检查点的根哈希不符")
    result.ok = not result.problems
    return result


def run_verify_proof(
    path: Path,
    log_keys: Sequence[str],
    policy_path: Path,
    entry_path: Path | None,
    hash_alg: str,
    out: TextIO,
) -> int:
    try:
        policy = parse_policy(policy_path.read_text(encoding="utf-8"))
        data = path.read_bytes()
        entry = entry_path.read_bytes() if entry_path is not None else None
    except (OSError, UnicodeDecodeError, FormatError) as exc:
        out.write(f"无法读取：{exc}\n")
        return 1
    result = verify_proof(data, policy, log_keys, entry, hash_alg)
    if not result.ok:
        for problem in result.problems:
            out.write(problem + "\n")
        return 1
    out.write(f"通过：条目 #{result.index} 在大小为 {result.tree_size} 的日志中\n")
    for name, timestamp in sorted(result.cosigned.items()):
        when = dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat()
        out.write(f"见证方 {name} 副署于 {when}\n")
    return 0
