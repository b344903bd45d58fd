"""RFC 9162 §2.1.3.2 / §2.1.4.2 proof verification (inclusion and consistency).

Kept apart from the platform's own tree code on purpose: a witness checks the log with code
the log's operator does not ship. SHA-256 is the C2SP default; SM3 is accepted for logs
configured with it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
ALGORITHMS = ("sha256", "sm3")


def _digest(alg: str) -> Callable[[bytes], bytes]:
    if alg not in ALGORITHMS:
        raise ValueError(f"unknown hash algorithm {alg!r}")

    def digest(data: bytes) -> bytes:
        return hashlib.new(alg, data).digest()

    return digest


def leaf_hash(entry: bytes, alg: str = "sha256") -> bytes:
    return _digest(alg)(b"\x00" + entry)


def empty_root(alg: str = "sha256") -> bytes:
    return _digest(alg)(b"")


def root_from_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], alg: str = "sha256"
) -> bytes | None:
    """The root an inclusion proof leads to, ``None`` when the proof has the wrong shape."""
    if not 0 <= index < size:
        return None
    h = _digest(alg)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if len(p) != HASH_SIZE or sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = h(b"\x01" + p + r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = h(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes, alg: str = "sha256"
) -> bool:
    computed = root_from_inclusion(leaf, index, size, proof, alg)
    return computed is not None and computed == root


def verify_consistency(
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
    alg: str = "sha256",
) -> bool:
    """True if ``proof`` shows that the tree (new_size, new_root) extends (old_size, old_root)."""
    h = _digest(alg)
    if not 0 <= old_size <= new_size or any(len(p) != HASH_SIZE for p in proof):
        return False
    if old_size == 0:
        # Every tree extends the empty one, whose root can only be H().
        return not proof and old_root == h(b"") and (new_size > 0 or new_root == h(b""))
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = h(b"\x01" + c + fr)
            sr = h(b"\x01" + c + sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = h(b"\x01" + sr + c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
