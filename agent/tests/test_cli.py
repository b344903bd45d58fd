from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agent.cli import main
from agent.signing import load_key, load_public_key, public_key_b64, verify_record
from agent.spool import Spool
from agent.tests.sink import accept_all, running_sink

ROOT = Path(__file__).resolve().parents[2]
USCC = "91110000600037341L"


def write_timeline(path: Path, *, gpus: int = 2, busy_ticks: int = 40) -> Path:
    job = {"YINGDU_WORK_REF": "WR-1", "YINGDU_ENTERPRISE_USCC": USCC, "YINGDU_SCENARIO": "render"}
    busy = {"util": 95, "mem_mib": 40000, "power_w": 550, "procs": [{"pid": 5, "mem_mib": 39000, "job": "j"}]}
    script = {
        "start": "2026-03-01T08:00:00+08:00",
        "interval": 15,
        "gpus": [{"uuid": f"GPU-{n}", "model": "NVIDIA H200"} for n in range(gpus)],
        "jobs": {"j": job},
        "ticks": [{"gpus": [{}] * gpus}, {"repeat": busy_ticks, "gpus": [busy] * gpus}],
    }
    path.write_text(json.dumps(script))
    return path


def agent_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "agent", *args]


def run_args(sink_url: str, tmp_path: Path, *extra: str) -> list[str]:
    return [
        "run", "--server", sink_url, "--token", "tok", "--node-id", "hz-gpu-017",
        "--key", str(tmp_path / "node.key"), "--spool", str(tmp_path / "spool"),
        "--backend", "fake", "--fake-timeline", str(tmp_path / "timeline.json"),
        "--record-seconds", "60", *extra,
    ]  # fmt: skip


def test_keygen_prints_the_public_key_that_pubkey_repeats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keygen", "--key", str(tmp_path / "node.key")]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == public_key_b64(load_key(tmp_path / "node.key"))
    assert main(["pubkey", "--key", str(tmp_path / "node.key")]) == 0
    assert capsys.readouterr().out.strip() == printed
    assert main(["keygen", "--key", str(tmp_path / "node.key")]) == 1


def test_status_counts_pending_and_rejected_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spool = Spool(tmp_path)
    spool.put_many([{"record_id": "a", "ended_at": "2026-03-01T08:01:00+08:00"}, {"record_id": "b"}])
    spool.reject(spool.pending()[1], "时间重叠")
    assert main(["status", "--spool", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "pending: 1" in out and "rejected: 1" in out and "时间重叠" in out
    assert main(["status", "--spool", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["pending"] == 1


def test_run_once_delivers_every_record_and_empties_the_spool(tmp_path: Path) -> None:
    main(["keygen", "--key", str(tmp_path / "node.key")])
    write_timeline(tmp_path / "timeline.json")
    with running_sink() as sink:
        code = main(
            run_args(sink.url, tmp_path, "--once", "--max-runtime", "30", "--price-per-gpu-hour", "9.00")
        )
    assert code == 0
    assert len(sink.records) == 2 * 10
    public = load_public_key(public_key_b64(load_key(tmp_path / "node.key")))
    assert all(verify_record(r, public) for r in sink.records)
    assert {r["cost_cny"] for r in sink.records} == {"0.15"}
    assert Spool(tmp_path / "spool").pending_count() == 0


def test_the_agent_runs_without_django() -> None:
    code = "import sys, agent.cli; print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": ""},
    )
    assert out.stdout.strip() == "[]"


def test_sigkill_mid_send_then_restart_loses_nothing(tmp_path: Path) -> None:
    main(["keygen", "--key", str(tmp_path / "node.key")])
    write_timeline(tmp_path / "timeline.json", busy_ticks=60)

    def slow(records: list[dict[str, Any]]) -> tuple[int, Any]:
        time.sleep(0.1)
        return accept_all(records)

    with running_sink(slow) as sink:
        args = run_args(sink.url, tmp_path, "--once", "--batch-size", "3", "--max-runtime", "60")
        proc = subprocess.Popen(agent_command(*args), cwd=ROOT, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while len(sink.batches) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        received_before_kill = len(sink.records)
        assert 0 < received_before_kill < 2 * 15
        restarted = subprocess.run(agent_command(*args), cwd=ROOT, stderr=subprocess.DEVNULL, timeout=60)
    assert restarted.returncode == 0
    by_id: dict[str, dict[str, Any]] = {}
    for record in sink.records:
        # A batch in flight at the kill may arrive twice; it must be the very same record.
        assert by_id.setdefault(record["record_id"], record) == record
    windows = sorted((r["gpu_uuid"], r["started_at"], r["ended_at"]) for r in by_id.values())
    assert len(windows) == len(set(windows)) == 2 * 15
    assert sum(r["gpu_seconds"] for r in by_id.values()) == 2 * 60 * 15
    assert Spool(tmp_path / "spool").pending_count() == 0


def test_sigterm_closes_the_open_records_and_delivers_them(tmp_path: Path) -> None:
    main(["keygen", "--key", str(tmp_path / "node.key")])
    path = write_timeline(tmp_path / "timeline.json", gpus=1, busy_ticks=2000)
    script = json.loads(path.read_text())
    script["time_scale"] = 0.01  # 0.15 s of real time per 15 s tick
    path.write_text(json.dumps(script))
    with running_sink() as sink:
        args = run_args(sink.url, tmp_path, "--max-runtime", "60")
        args[args.index("--record-seconds") + 1] = "3600"
        proc = subprocess.Popen(agent_command(*args), cwd=ROOT, stderr=subprocess.DEVNULL)
        time.sleep(1.5)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    (record,) = sink.records
    assert record["gpu_seconds"] > 0
    assert Spool(tmp_path / "spool").pending_count() == 0
