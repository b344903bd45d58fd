"""RFC 9162 hashing and proofs: the C2SP CCTV vectors and property tests against a recursive reference."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import merkle

# The C2SP CCTV vectors (BSD-2-Clause, LICENSE beside them), copied unchanged.
VECTORS = Path(__file__).resolve().parent / "data" / "cctv-merkle"


def _load(name: str) -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads((VECTORS / name).read_text())
    return vectors


def _b(value: str) -> bytes:
    return base64.b64decode(value)


def _mth(hashes: Sequence[bytes], alg: str) -> bytes:
    """RFC 9162 §2.1.1 written as the recursion, for reference."""
    if not hashes:
        return merkle.empty_root(alg)
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return merkle.node_hash(_mth(hashes[:k], alg), _mth(hashes[k:], alg), alg)


def test_every_cctv_tree_vector_gives_the_leaf_and_root_hashes() -> None:
    cases = _load("merkle_tree.json")
    leaves = [merkle.leaf_hash(c["leaf_data"].encode()) for c in cases]
    for i, case in enumerate(cases):
        assert leaves[i] == _b(case["leaf_hash"])
        assert merkle.root(leaves[: i + 1]) == _b(case["root_hash"])


@pytest.mark.parametrize("name,valid", [("inclusion-valid.json", True), ("inclusion-invalid.json", False)])
def test_cctv_inclusion_vectors_are_accepted_or_rejected(name: str, valid: bool) -> None:
    for case in _load(name):
        ok = merkle.verify_inclusion(
            _b(case["leaf_hash"]),
            case["leaf_index"],
            case["tree_size"],
            [_b(p) for p in case["inclusion_path"]],
            _b(case["root_hash"]),
        )
        assert ok is valid, case


@pytest.mark.parametrize(
    "name,valid", [("consistency-valid.json", True), ("consistency-invalid.json", False)]
)
def test_cctv_consistency_vectors_are_accepted_or_rejected(name: str, valid: bool) -> None:
    for case in _load(name):
        ok = merkle.verify_consistency(
            case["old_size"],
            case["new_size"],
            _b(case["old_root"]),
            _b(case["new_root"]),
            [_b(p) for p in case["consistency_path"]],
        )
        assert ok is valid, case


def test_our_proofs_for_the_cctv_tree_equal_the_vectors() -> None:
    leaves = [merkle.leaf_hash(c["leaf_data"].encode()) for c in _load("merkle_tree.json")]
    for case in _load("inclusion-valid.json"):
        proof = merkle.inclusion_proof(case["leaf_index"], leaves, tree_size=case["tree_size"])
        assert proof == [_b(p) for p in case["inclusion_path"]]
    for case in _load("consistency-valid.json"):
        proof = merkle.consistency_proof(case["old_size"], leaves, new_size=case["new_size"])
        assert proof == [_b(p) for p in case["consistency_path"]]


def test_sm3_leaf_hash_is_sm3_of_the_prefixed_entry() -> None:
    import hashlib

    assert merkle.leaf_hash(b"abc", "sm3") == hashlib.new("sm3", b"\x00abc").digest()
    assert merkle.empty_root("sm3") == hashlib.new("sm3", b"").digest()
    with pytest.raises(ValueError):
        merkle.hasher("md5")


@pytest.mark.parametrize("alg", merkle.ALGORITHMS)
@settings(max_examples=40, deadline=None)
@given(n=st.integers(min_value=1, max_value=300), data=st.data())
def test_root_equals_the_rfc_recursion_and_proofs_round_trip(alg: str, n: int, data: st.DataObject) -> None:
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big"), alg) for i in range(n)]
    root = merkle.root(leaves, alg)
    assert root == _mth(leaves, alg)
    index = data.draw(st.integers(min_value=0, max_value=n - 1))
    proof = merkle.inclusion_proof(index, leaves, alg)
    assert merkle.verify_inclusion(leaves[index], index, n, proof, root, alg)
    assert not merkle.verify_inclusion(merkle.leaf_hash(b"other", alg), index, n, proof, root, alg)
    if n > 1:
        assert not merkle.verify_inclusion(leaves[index], (index + 1) % n, n, proof, root, alg)
    old = data.draw(st.integers(min_value=0, max_value=n))
    cproof = merkle.consistency_proof(old, leaves, alg)
    old_root = merkle.root(leaves[:old], alg)
    assert merkle.verify_consistency(old, n, old_root, root, cproof, alg)
    if 0 < old < n:
        forked = merkle.root([*leaves[: n - 1], merkle.leaf_hash(b"fork", alg)], alg)
        assert not merkle.verify_consistency(old, n, old_root, forked, cproof, alg)


def test_a_proof_with_a_tampered_hash_fails() -> None:
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(11)]
    root = merkle.root(leaves)
    proof = merkle.inclusion_proof(6, leaves)
    for k in range(len(proof)):
        bad = list(proof)
        bad[k] = bytes(32)
        assert not merkle.verify_inclusion(leaves[6], 6, 11, bad, root)
    assert not merkle.verify_inclusion(leaves[6], 6, 11, proof[:-1], root)
    assert not merkle.verify_inclusion(leaves[6], 6, 11, [*proof, bytes(32)], root)
