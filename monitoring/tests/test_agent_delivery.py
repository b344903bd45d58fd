"""The real agent (a ``python -m agent run`` process, fake GPU backend) against the real platform.

The platform is Django's live server. Between them sits a small HTTP relay on a fixed
port, so the platform can be "down" (nothing listening, then 503 answers) and come back
while the agent keeps running.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agent.backends import FakeBackend
from agent.collector import Collector
from agent.signing import load_key, public_key_b64
from agent.spool import Spool
from enterprises.models import Provider
from ledger.models import Entry
from monitoring.actions import issue_token
from monitoring.models import Node, UsageRecord
from testing.fixtures import USCC_A

ROOT = Path(__file__).resolve().parents[2]
GPUS = 2
BUSY_TICKS = 48  # 12 minutes of 15 s ticks: 4 records of 3 minutes per GPU
RECORD_SECONDS = "180"
EXPECTED = GPUS * 4


def timeline() -> dict[str, Any]:
    job = {
        "YINGDU_WORK_REF": "京剧备字2026001号",
        "YINGDU_ENTERPRISE_USCC": USCC_A,
        "YINGDU_JOB_ID": "slurm-77",
    }
    busy = {"util": 97, "mem_mib": 70000, "power_w": 640, "procs": [{"pid": 9, "mem_mib": 69000, "job": "j"}]}
    return {
        "start": "2026-03-01T08:00:00+08:00",
        "interval": 15,
        "gpus": [
            {"uuid": f"GPU-{n:04d}", "model": "NVIDIA H200", "energy_mj": 1_000_000} for n in range(GPUS)
        ],
        "jobs": {"j": job},
        "ticks": [{"gpus": [{}] * GPUS}, {"repeat": BUSY_TICKS, "gpus": [busy] * GPUS}],
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Relay:
    """Forwards POSTs to the platform; ``down`` answers 503 instead. Counts forwarded answers."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.down = False
        self.forwarded = 0

    @contextmanager
    def serving(self, port: int) -> Iterator[Relay]:
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if relay.down:
                    status, data = 503, b'{"detail": "maintenance"}'
                else:
                    request = urllib.request.Request(
                        relay.target + self.path, data=body, method="POST", headers=dict(self.headers)
                    )
                    try:
                        with urllib.request.urlopen(request, timeout=30) as response:
                            status, data = response.status, response.read()
                    except urllib.error.HTTPError as exc:
                        status, data = exc.code, exc.read()
                    relay.forwarded += 1
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()


@pytest.fixture
def platform(transactional_db: None, live_server: Any, tmp_path: Path) -> dict[str, Any]:
    """An approved provider with a token and a registered node whose key the agent holds."""
    provider = Provider.objects.create(name="怀柔智算中心", status=Provider.Status.APPROVED)
    _row, token = issue_token(provider, actor=None)
    key_path = tmp_path / "node.key"
    subprocess.run(
        [sys.executable, "-m", "agent", "keygen", "--key", str(key_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    Node.objects.create(
        provider=provider, node_id="hz-gpu-017", public_key=public_key_b64(load_key(key_path))
    )
    (tmp_path / "timeline.json").write_text(json.dumps(timeline()))
    return {"provider": provider, "token": token, "key": key_path, "url": live_server.url, "dir": tmp_path}


def agent_args(platform: dict[str, Any], server: str, *extra: str) -> list[str]:
    d = platform["dir"]
    return [
        sys.executable, "-m", "agent", "run", "--server", server, "--token", platform["token"],
        "--node-id", "hz-gpu-017", "--key", str(platform["key"]), "--spool", str(d / "spool"),
        "--backend", "fake", "--fake-timeline", str(d / "timeline.json"), "--record-seconds", RECORD_SECONDS,
        "--price-per-gpu-hour", "12.00", "--once", "--max-runtime", "90", *extra,
    ]  # fmt: skip


def expected_content(platform: dict[str, Any]) -> list[dict[str, Any]]:
    """What the agent must deliver: the same timeline through the collector, ids and signatures aside."""
    spool = Spool(platform["dir"] / "reference")
    collector = Collector(
        node_id="hz-gpu-017",
        key=load_key(platform["key"]),
        spool=spool,
        record_seconds=float(RECORD_SECONDS),
        price_per_gpu_hour=Decimal("12.00"),
    )
    collector.run(FakeBackend.from_script(timeline()), interval=15, stop=threading.Event())
    expected = sorted((_content(e.record) for e in spool.pending()), key=_order)
    assert len(expected) == EXPECTED
    return expected


def _content(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("record_id", "signature")}


def _order(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True)


def delivered(platform: dict[str, Any]) -> list[dict[str, Any]]:
    """The usage entries in the log, as the platform stored them."""
    entries = [
        json.loads(bytes(e.data))
        for e in Entry.objects.filter(kind="usage_record", provider_id=platform["provider"].pk)
    ]
    return sorted((_content(e) for e in entries), key=_order)


def wait_for(condition: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def spool_pending(platform: dict[str, Any]) -> int:
    pending = platform["dir"] / "spool" / "pending"
    return len(list(pending.glob("*.json"))) if pending.exists() else 0


def test_the_agent_delivers_every_record_exactly_once_through_a_platform_outage(
    platform: dict[str, Any],
) -> None:
    port = free_port()
    relay = Relay(platform["url"])
    env = {**os.environ}
    # Down: nothing listens on the port. The agent samples, signs and spools, and backs off.
    agent = subprocess.Popen(
        agent_args(platform, f"http://127.0.0.1:{port}", "--backoff-max", "0.5"),
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: spool_pending(platform) == EXPECTED)
        time.sleep(1.0)
        assert agent.poll() is None
        with relay.serving(port):
            # Listening, but still answering 503 for a while.
            relay.down = True
            time.sleep(1.0)
            assert UsageRecord.objects.count() == 0
            relay.down = False
            assert agent.wait(60) == 0
    finally:
        if agent.poll() is None:
            agent.kill()
    log = agent.stderr.read() if agent.stderr else ""
    assert "cannot reach" in log and "HTTP 503" in log
    assert spool_pending(platform) == 0
    assert UsageRecord.objects.count() == EXPECTED
    assert delivered(platform) == expected_content(platform)


def test_killing_the_agent_mid_send_and_restarting_it_loses_nothing(platform: dict[str, Any]) -> None:
    port = free_port()
    relay = Relay(platform["url"])
    args = agent_args(platform, f"http://127.0.0.1:{port}", "--batch-size", "1")
    with relay.serving(port):
        agent = subprocess.Popen(args, cwd=ROOT, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: relay.forwarded >= 2)
            agent.send_signal(signal.SIGKILL)
            agent.wait(10)
        finally:
            if agent.poll() is None:
                agent.kill()
        assert 0 < relay.forwarded < EXPECTED
        restarted = subprocess.run(args, cwd=ROOT, stderr=subprocess.DEVNULL, timeout=90)
    assert restarted.returncode == 0
    assert spool_pending(platform) == 0
    assert UsageRecord.objects.count() == EXPECTED
    assert delivered(platform) == expected_content(platform)
