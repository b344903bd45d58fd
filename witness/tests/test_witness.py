"""The witness as a separate process on loopback, spoken to over HTTP as a log would (C2SP tlog-witness)."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import signal
import stat
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from witness import merkle
from witness.notes import ALG_ED25519, PrivateKey, generate_key

VECTORS = Path(__file__).resolve().parent / "data" / "cctv-merkle"
ORIGIN = "example.test/log"
REPO = Path(__file__).resolve().parents[2]


# --- a tiny log, written from RFC 9162 §2.1 independently of the code under test ---


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return _h(b"")
    if len(leaves) == 1:
        return _h(b"\x00" + leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return _h(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:]))


def _subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [_mth(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return _subproof(m, leaves[:k], complete) + [_mth(leaves[k:])]
    return _subproof(m - k, leaves[k:], False) + [_mth(leaves[:k])]


def consistency(m: int, leaves: list[bytes]) -> list[bytes]:
    return [] if m in (0, len(leaves)) else _subproof(m, leaves, True)


class Log:
    def __init__(self, key: PrivateKey, entries: list[bytes]) -> None:
        self.key, self.entries = key, entries

    def checkpoint(self, size: int) -> str:
        text = f"{ORIGIN}\n{size}\n{base64.b64encode(_mth(self.entries[:size])).decode()}\n"
        return self.key.sign_note(text)

    def request(self, old: int, size: int, proof: list[bytes] | None = None) -> bytes:
        hashes = consistency(old, self.entries[:size]) if proof is None else proof
        lines = [f"old {old}"] + [base64.b64encode(h).decode() for h in hashes]
        return ("\n".join(lines) + "\n\n" + self.checkpoint(size)).encode()


# --- the witness process ---


class WitnessProcess:
    def __init__(self, state: Path, log_vkey: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "witness",
                "serve",
                "--state",
                str(state),
                "--name",
                "w1.example.test",
                "--log",
                log_vkey,
                "--listen",
                "127.0.0.1:0",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=REPO,
            env={**os.environ, **(env or {})},
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        assert line and line[0] == "listening", line
        self.port = int(line[1].rsplit(":", 1)[1])
        self.vkey = line[2]

    def post(self, body: bytes) -> tuple[int, str, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("POST", "/add-checkpoint", body=body)
            resp = conn.getresponse()
            return resp.status, resp.getheader("Content-Type", ""), resp.read().decode()
        finally:
            conn.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def log() -> Log:
    return Log(generate_key(ORIGIN, ALG_ED25519), [f"entry {i}".encode() for i in range(40)])


@pytest.fixture
def witness(tmp_path: Path, log: Log) -> Iterator[WitnessProcess]:
    w = WitnessProcess(tmp_path / "w", log.key.vkey)
    yield w
    w.stop()


def spec_verify_cosignature(vkey: str, checkpoint_text: str, line: str) -> int:
    """A cosignature/v1 check written from tlog-cosignature alone; returns the timestamp."""
    name, key_hex, key_b64 = vkey.split("+", 2)
    key = base64.b64decode(key_b64)
    assert key[0] == 0x04 and len(key) == 33
    assert hashlib.sha256(name.encode() + b"\n" + key).digest()[:4].hex() == key_hex
    assert line.startswith("\u2014 " + name + " ") and line.endswith("\n")
    sig = base64.b64decode(line.rstrip("\n").rsplit(" ", 1)[1])
    assert sig[:4] == bytes.fromhex(key_hex) and len(sig) == 4 + 8 + 64
    (timestamp,) = struct.unpack(">Q", sig[4:12])
    message = b"cosignature/v1\ntime " + str(timestamp).encode() + b"\n" + checkpoint_text.encode()
    Ed25519PublicKey.from_public_bytes(key[1:]).verify(sig[12:], message)  # raises if it does not verify
    return int(timestamp)


def _load(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((VECTORS / name).read_text())
    return cases


def _b(value: str) -> bytes:
    return base64.b64decode(value)


@pytest.mark.parametrize(
    "name,valid", [("consistency-valid.json", True), ("consistency-invalid.json", False)]
)
def test_it_accepts_and_refuses_the_cctv_consistency_vectors(name: str, valid: bool) -> None:
    for case in _load(name):
        ok = merkle.verify_consistency(
            case["old_size"],
            case["new_size"],
            _b(case["old_root"]),
            _b(case["new_root"]),
            [_b(p) for p in case["consistency_path"]],
        )
        assert ok is valid, case


@pytest.mark.parametrize("name,valid", [("inclusion-valid.json", True), ("inclusion-invalid.json", False)])
def test_it_accepts_and_refuses_the_cctv_inclusion_vectors(name: str, valid: bool) -> None:
    for case in _load(name):
        ok = merkle.verify_inclusion(
            _b(case["leaf_hash"]),
            case["leaf_index"],
            case["tree_size"],
            [_b(p) for p in case["inclusion_path"]],
            _b(case["root_hash"]),
        )
        assert ok is valid, case


def test_it_cosigns_a_consistent_checkpoint_in_the_spec_layout(
    witness: WitnessProcess, log: Log, tmp_path: Path
) -> None:
    status, ctype, body = witness.post(log.request(0, 5))
    assert status == 200, body
    assert ctype.startswith("text/plain")
    text = log.checkpoint(5).split("\n\n")[0] + "\n"
    assert spec_verify_cosignature(witness.vkey, text, body) > 1_700_000_000
    status, _, body = witness.post(log.request(5, 13))
    assert status == 200, body
    spec_verify_cosignature(witness.vkey, log.checkpoint(13).split("\n\n")[0] + "\n", body)
    key_file = tmp_path / "w" / "witness.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "w" / "witness.sqlite3").stat().st_mode) == 0o600


def test_it_answers_409_with_its_size_when_old_differs(witness: WitnessProcess, log: Log) -> None:
    assert witness.post(log.request(0, 8))[0] == 200
    status, ctype, body = witness.post(log.request(3, 10))
    assert (status, ctype, body) == (409, "text/x.tlog.size", "8\n")


def test_it_refuses_a_fork_of_the_same_size_with_409(witness: WitnessProcess, log: Log) -> None:
    assert witness.post(log.request(0, 8))[0] == 200
    fork = Log(log.key, [*log.entries[:7], b"another entry 7", *log.entries[8:]])
    status, ctype, body = witness.post(fork.request(8, 8))
    assert (status, ctype, body) == (409, "text/x.tlog.size", "8\n")


def test_it_refuses_a_rewritten_log_with_422(witness: WitnessProcess, log: Log) -> None:
    assert witness.post(log.request(0, 8))[0] == 200
    rewritten = Log(log.key, [b"rewritten 0", *log.entries[1:]])
    status, _, _ = witness.post(rewritten.request(8, 12))
    assert status == 422
    # The honest log goes on.
    assert witness.post(log.request(8, 12))[0] == 200


def test_it_answers_403_for_an_unknown_key_and_404_for_an_unknown_origin(
    witness: WitnessProcess, log: Log
) -> None:
    stranger = Log(generate_key(ORIGIN, ALG_ED25519), log.entries)
    assert witness.post(stranger.request(0, 4))[0] == 403
    other = generate_key("other.test/log", ALG_ED25519)
    note = other.sign_note(f"other.test/log\n1\n{base64.b64encode(_mth(log.entries[:1])).decode()}\n")
    assert witness.post(b"old 0\n\n" + note.encode())[0] == 404


@pytest.mark.parametrize(
    "body",
    [b"", b"garbage", b"old 01\n\nx\n", b"old 0\nnot base64!\n\nx\n", b"\xff\xfe\n\n", b"old 9\n\n"],
)
def test_it_answers_400_for_a_malformed_request(witness: WitnessProcess, body: bytes) -> None:
    assert witness.post(body)[0] == 400


def test_it_answers_422_for_a_proof_from_size_zero(witness: WitnessProcess, log: Log) -> None:
    assert witness.post(log.request(0, 4, proof=[b"\x01" * 32]))[0] == 422
    assert witness.post(log.request(0, 4))[0] == 200


def test_it_answers_400_when_old_is_larger_than_the_checkpoint(witness: WitnessProcess, log: Log) -> None:
    body = log.request(0, 4).replace(b"old 0", b"old 9")
    assert witness.post(body)[0] == 400


def test_it_never_cosigns_two_roots_for_one_size_after_a_sigkill(tmp_path: Path, log: Log) -> None:
    state = tmp_path / "w"
    dying = WitnessProcess(state, log.key.vkey, env={"YINGDU_WITNESS_TEST_KILL_AFTER_PERSIST": "1"})
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        dying.post(log.request(0, 6))
    assert dying.proc.wait(timeout=10) == -signal.SIGKILL
    witness = WitnessProcess(state, log.key.vkey)
    try:
        fork = Log(log.key, [*log.entries[:5], b"forked 5"])
        assert witness.post(fork.request(0, 6))[:3] == (409, "text/x.tlog.size", "6\n")
        assert witness.post(fork.request(6, 6))[0] == 409
        status, _, body = witness.post(log.request(6, 6))
        assert status == 200
        spec_verify_cosignature(witness.vkey, log.checkpoint(6).split("\n\n")[0] + "\n", body)
    finally:
        witness.stop()
