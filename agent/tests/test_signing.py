from __future__ import annotations

import base64
import stat
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from agent.signing import (
    KeyFileError,
    canonical_bytes,
    canonical_pair,
    canonical_record,
    generate_key,
    load_key,
    load_public_key,
    public_key_b64,
    sign_bytes,
    sign_record,
    verify_bytes,
    verify_record,
)

RECORD = {
    "record_id": "6f1c1f7e-3f5a-4a47-9a49-0c1b2f1d2e3f",
    "node_id": "hz-gpu-017",
    "enterprise_uscc": "91110000600037341L",
    "work_ref": "京剧备字2026001号",
    "job_id": "job-1",
    "scenario": "text2video",
    "gpu_model": "NVIDIA H200",
    "gpu_uuid": "GPU-7c60d23e-f790-482a-85f4-17bba1f6b5cb",
    "gpu_count": 1,
    "started_at": "2026-03-01T08:00:00+08:00",
    "ended_at": "2026-03-01T09:00:00+08:00",
    "gpu_seconds": 3600.0,
    "avg_util_pct": 87.5,
    "max_mem_mib": 80211,
    "energy_wh": 650.2,
    "cost_cny": "32.50",
}

json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)


@given(st.dictionaries(st.text(min_size=1, max_size=12), json_values, max_size=12))
def test_canonical_bytes_match_rfc8785_for_flat_records(record: dict[str, Any]) -> None:
    unsigned = {k: v for k, v in record.items() if k != "signature"}
    try:
        expected = rfc8785.dumps(unsigned)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError, ValueError):
        return
    assert canonical_bytes(record) == expected
    assert canonical_record(unsigned) == expected
    assert canonical_pair(record) == (expected, canonical_record(record))


def test_canonical_bytes_write_integral_floats_as_ecmascript_does() -> None:
    assert canonical_bytes({"gpu_seconds": 540.0, "energy_wh": 0.5}) == b'{"energy_wh":0.5,"gpu_seconds":540}'


def test_canonical_bytes_leave_out_the_signature() -> None:
    assert canonical_bytes({**RECORD, "signature": "x"}) == canonical_bytes(RECORD)


def test_a_signed_record_verifies_and_any_change_breaks_it(tmp_path: Path) -> None:
    key = generate_key(tmp_path / "node.key")
    signed = sign_record(RECORD, key)
    public = load_public_key(public_key_b64(key))
    assert verify_record(signed, public)
    for field, value in [("gpu_seconds", 3601), ("work_ref", "other"), ("cost_cny", "32.51")]:
        assert not verify_record({**signed, field: value}, public)
    assert not verify_record({**signed, "signature": "not base64!"}, public)
    assert not verify_record({k: v for k, v in signed.items() if k != "signature"}, public)


def test_another_nodes_key_does_not_verify(tmp_path: Path) -> None:
    signed = sign_record(RECORD, generate_key(tmp_path / "a.key"))
    other = load_public_key(public_key_b64(generate_key(tmp_path / "b.key")))
    assert not verify_record(signed, other)


def test_keygen_writes_an_owner_only_file_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "node.key"
    generate_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        generate_key(path)


def test_a_key_file_may_hold_the_base64_seed(tmp_path: Path) -> None:
    path = tmp_path / "seed"
    path.write_text(base64.b64encode(bytes(range(32))).decode())
    key = load_key(path)
    assert len(base64.b64decode(public_key_b64(key))) == 32
    path.write_text("short")
    with pytest.raises(KeyFileError):
        load_key(path)


def test_public_keys_must_be_32_bytes_of_base64() -> None:
    with pytest.raises(KeyFileError):
        load_public_key(base64.b64encode(b"x" * 31).decode())
    with pytest.raises(KeyFileError):
        load_public_key("%%%")


def test_detached_file_signatures_verify(tmp_path: Path) -> None:
    key = generate_key(tmp_path / "node.key")
    public = load_public_key(public_key_b64(key))
    signature = sign_bytes(b"a,b\n1,2\n", key)
    assert verify_bytes(b"a,b\n1,2\n", signature, public)
    assert not verify_bytes(b"a,b\n1,3\n", signature, public)
