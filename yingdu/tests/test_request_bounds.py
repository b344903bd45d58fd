"""Request bodies are bounded before they are read: by size per route, by the caller's credentials,
and by a depth scan that holds a fixed amount of memory (docs/security.md)."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client

from core.middleware import (
    API_JSON_MAX_BYTES,
    MAX_JSON_DEPTH,
    USAGE_BATCH_MAX_BYTES,
    JsonDepthScan,
    json_too_deep,
)
from core.smtp import free_port
from testing.fixtures import BaseTestCase, assert_bounded

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
THIRTY_MB = 30 * 1024 * 1024
API_ROUTES = [
    "/api/v1/usage/batches",
    "/api/v1/applications/",
    "/api/v1/applications/1/materials",
    "/api/v1/ledger/checkpoint",
    "/api/v1/policy/calc",
    "/api/v1/no-such-route",
]


# --- the depth scan --------------------------------------------------------------------------------


def test_it_counts_depth_across_chunks_and_skips_brackets_in_strings() -> None:
    deep = b'{"a": "[[[[\\"[[[[", "b": ' + b"[" * (MAX_JSON_DEPTH - 1) + b"]" * (MAX_JSON_DEPTH - 1) + b"}"
    assert not json_too_deep(deep)
    assert json_too_deep(b"[" + deep + b"]")
    scan = JsonDepthScan(2)
    for byte in b'[["\\', b'"[[[', b'"]]':  # the escaped quote spans two chunks
        assert not scan.feed(byte)
    assert scan.feed(b"[[[")


def test_it_scans_megabytes_of_hostile_json_in_linear_time_and_constant_memory() -> None:
    size = API_JSON_MAX_BYTES
    flat = b"[" * (MAX_JSON_DEPTH - 1) + b"[]" * (size // 2)
    escapes = b'["' + b'\\"' * (size // 2) + b'"]'
    strings = b"[" + b'"",' * (size // 3) + b'""]'
    for body in (flat, escapes, strings):
        assert not assert_bounded(lambda b=body: json_too_deep(b), seconds=5, megabytes=5)


def test_it_finds_the_same_depth_as_a_byte_by_byte_count_at_any_chunk_size() -> None:
    def reference(text: bytes) -> int:
        depth = deepest = i = 0
        in_string = False
        while i < len(text):
            byte = text[i : i + 1]
            if byte == b"\\":
                i += 2
                continue
            if byte == b'"':
                in_string = not in_string
            elif not in_string and byte in b"[{":
                depth += 1
                deepest = max(deepest, depth)
            elif not in_string and byte in b"]}":
                depth -= 1
            i += 1
        return deepest

    rng = random.Random(25)
    alphabet = [b"[", b"]", b"{", b"}", b'"', b"\\", b"a", b","]
    for _ in range(500):
        text = b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        limit = rng.randint(0, 6)
        for size in (1, 2, 3, 7, 64):
            scan = JsonDepthScan(limit)
            for start in range(0, len(text), size):
                scan.feed(text[start : start + size])
            assert scan.too_deep == (reference(text) > limit), (text, limit, size)


# --- the middleware through Django ----------------------------------------------------------------


class BodyLimitTests(BaseTestCase):
    def test_it_refuses_a_body_to_an_api_route_without_credentials_with_401(self) -> None:
        for headers in ({}, {"HTTP_COOKIE": "sessionid=abcdefabcdefabcdefabcdefabcdef12"}):
            response = Client(**headers).post(  # type: ignore[arg-type]
                "/api/v1/applications/", '{"work_title": "x"}', content_type="application/json"
            )
            self.assertEqual(response.status_code, 401)
            self.assertIn("请先登录", response.json()["detail"])

    def test_it_refuses_a_signed_in_body_over_the_routes_limit_with_413(self) -> None:
        self.login(self.alice)
        body = '{"work_title": "' + "x" * API_JSON_MAX_BYTES + '"}'
        response = self.client.post("/api/v1/applications/", body, content_type="application/json")
        self.assertEqual(response.status_code, 413)
        self.assertIn("1.0 MB", response.json()["detail"])

    def test_it_refuses_a_body_without_a_length_with_411(self) -> None:
        self.login(self.alice)
        response = self.client.generic(
            "POST",
            "/api/v1/applications/",
            b"",
            content_type="application/json",
            HTTP_TRANSFER_ENCODING="chunked",
        )
        self.assertEqual(response.status_code, 411)


# --- a real server on loopback --------------------------------------------------------------------


def _peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _worker_pid(master: int) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise AssertionError("gunicorn started no worker")


def _post(port: int, path: str, size: int) -> tuple[int, float]:
    """POST ``size`` bytes of JSON to ``path``; the status line's code and the seconds until it came."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    start = time.perf_counter()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {size}\r\n\r\n"
    ).encode()
    sock.sendall(head)

    def send_body() -> None:
        block = b"[" * (1024 * 1024)
        left = size
        try:
            while left > 0:
                sock.sendall(block[: min(left, len(block))])
                left -= len(block)
        except OSError:
            pass  # the server answered and closed without reading the rest

    sender = threading.Thread(target=send_body, daemon=True)
    sender.start()
    answer = b""
    while b"\r\n" not in answer:
        data = sock.recv(4096)
        if not data:
            break
        answer += data
    elapsed = time.perf_counter() - start
    sock.close()
    sender.join(10)
    return int(answer.split()[1]), elapsed


@pytest.fixture(scope="module")
def gunicorn_port() -> Iterator[tuple[int, int]]:
    tmp = Path(tempfile.mkdtemp(prefix="yingdu-bounds-"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("HUEY_", "DJANGO_", "DATABASE_"))},
        "YINGDU_ENV": "development",
        "YINGDU_VAR_DIR": str(tmp),
        "LOG_LEVEL": "WARNING",
    }
    port = free_port()
    server = subprocess.Popen(  # noqa: S603 - our own server
        [str(BIN / "gunicorn"), "yingdu.wsgi", "-w", "1", "-b", f"127.0.0.1:{port}", "--timeout", "60"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "gunicorn.log").open("wb"),
        start_new_session=True,
    )
    try:
        worker = _worker_pid(server.pid)
        deadline = time.monotonic() + 60
        while True:  # the worker has loaded the platform once it answers
            try:
                if _post(port, "/api/v1/usage/batches", 2)[0] == 401:
                    break
            except (OSError, IndexError):
                pass
            assert time.monotonic() < deadline and server.poll() is None, (tmp / "gunicorn.log").read_text()
            time.sleep(0.2)
        yield port, worker
    finally:
        server.terminate()
        server.wait(30)


@pytest.mark.parametrize("path", API_ROUTES)
def test_it_answers_a_30_mb_anonymous_body_within_a_second_and_50_mb(
    gunicorn_port: tuple[int, int], path: str
) -> None:
    port, worker = gunicorn_port
    before = _peak_kb(worker)
    status, seconds = _post(port, path, THIRTY_MB)
    grown_mb = (_peak_kb(worker) - before) / 1024
    print(f"{path}: {status} after {seconds * 1000:.0f} ms, worker peak memory +{grown_mb:.1f} MB")
    assert status == 401, status
    assert seconds < 1, f"answered after {seconds:.2f} s"
    assert grown_mb < 50, f"the worker's peak memory grew {grown_mb:.0f} MB"
    assert THIRTY_MB > USAGE_BATCH_MAX_BYTES
