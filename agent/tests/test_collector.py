from __future__ import annotations

import threading
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.backends import BackendError, FakeBackend
from agent.collector import Collector
from agent.signing import generate_key, load_public_key, public_key_b64, verify_record
from agent.spool import Spool

USCC = "91110000600037341L"
SPEC_FIELDS = [
    "record_id", "node_id", "enterprise_uscc", "work_ref", "job_id", "scenario", "gpu_model", "gpu_uuid",
    "gpu_count", "started_at", "ended_at", "gpu_seconds", "avg_util_pct", "max_mem_mib", "energy_wh",
    "cost_cny", "signature",
]  # fmt: skip
# Optional fields the platform accepts beside them: how the record was made.
PROVENANCE_FIELDS = ["device_uuid", "split_rule", "energy_rule", "attribution", "attribution_ref", "clock_sync"]
JOBS = {
    "a": {
        "YINGDU_WORK_REF": "WR-A",
        "YINGDU_JOB_ID": "job-a",
        "YINGDU_ENTERPRISE_USCC": USCC,
        "YINGDU_SCENARIO": "text2video",
    },
    "b": {"YINGDU_WORK_REF": "WR-B", "YINGDU_ENTERPRISE_USCC": USCC},
}


def busy(job: str, *, power_w: float = 600, util: float = 90, mem: int = 60000) -> dict[str, Any]:
    return {
        "util": util,
        "mem_mib": mem + 500,
        "power_w": power_w,
        "procs": [{"pid": 10, "mem_mib": mem, "job": job}],
    }


IDLE = {"util": 0, "mem_mib": 600, "power_w": 80}


def timeline(*ticks: tuple[int, list[dict[str, Any]]], gpus: int = 1) -> dict[str, Any]:
    return {
        "start": "2026-03-01T08:00:00+08:00",
        "interval": 15,
        "gpus": [{"uuid": f"GPU-{n}", "model": "NVIDIA H200", "energy_mj": 5_000_000} for n in range(gpus)],
        "jobs": JOBS,
        "ticks": [{"repeat": repeat, "gpus": per_gpu} for repeat, per_gpu in ticks],
    }


@pytest.fixture
def key(tmp_path: Path) -> Ed25519PrivateKey:
    return generate_key(tmp_path / "node.key")


def collect(
    script: dict[str, Any],
    key: Ed25519PrivateKey,
    spool: Spool,
    *,
    record_seconds: float = 300,
    limit: int | None = None,
    flush: bool = True,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    backend = FakeBackend.from_script(script)
    collector = Collector(node_id="hz-gpu-017", key=key, spool=spool, record_seconds=record_seconds, **kwargs)
    records: list[dict[str, Any]] = []
    steps = 0
    while (sample := backend.sample()) is not None and (limit is None or steps < limit):
        closed = collector.step(sample)
        collector.store(closed)
        records += closed
        steps += 1
    if flush:
        closed = collector.flush()
        collector.store(closed)
        records += closed
    return records


def seconds_between(record: dict[str, Any]) -> float:
    start, end = datetime.fromisoformat(record["started_at"]), datetime.fromisoformat(record["ended_at"])
    return (end - start).total_seconds()


def test_it_closes_one_signed_record_per_job_and_window(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    script = timeline((1, [IDLE]), (30, [busy("a", power_w=650)]), (2, [IDLE]))
    records = collect(script, key, Spool(tmp_path / "spool"), price_per_gpu_hour=Decimal("12.50"))
    assert [r["gpu_seconds"] for r in records] == [300, 150]
    first, second = records
    assert sorted(first) == sorted(SPEC_FIELDS + PROVENANCE_FIELDS)
    assert first["started_at"] == "2026-03-01T08:00:00+08:00"
    assert first["ended_at"] == second["started_at"] == "2026-03-01T08:05:00+08:00"
    assert second["ended_at"] == "2026-03-01T08:07:30+08:00"
    assert first | {"record_id": None, "signature": None} == {
        "record_id": None,
        "node_id": "hz-gpu-017",
        "enterprise_uscc": USCC,
        "work_ref": "WR-A",
        "job_id": "job-a",
        "scenario": "text2video",
        "gpu_model": "NVIDIA H200",
        "gpu_uuid": "GPU-0",
        "gpu_count": 1,
        "started_at": "2026-03-01T08:00:00+08:00",
        "ended_at": "2026-03-01T08:05:00+08:00",
        "gpu_seconds": 300,
        "avg_util_pct": 90,
        "max_mem_mib": 60000,
        "energy_wh": round(650 * 300 / 3600, 3),
        "cost_cny": "1.04",
        "signature": None,
        "device_uuid": "GPU-0",
        "split_rule": "exclusive",
        "energy_rule": "counter",
        "attribution": "environ",
        "attribution_ref": "",
        "clock_sync": "unknown",
    }
    public = load_public_key(public_key_b64(key))
    assert all(verify_record(r, public) for r in records)
    assert Spool(tmp_path / "spool").pending_count() == 2


def test_a_record_closes_when_the_job_ends_or_another_takes_the_gpu(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    script = timeline((1, [IDLE]), (4, [busy("a")]), (4, [busy("b")]), (2, [IDLE]), (3, [busy("a")]))
    records = collect(script, key, Spool(tmp_path))
    assert [(r["work_ref"], r["gpu_seconds"]) for r in records] == [("WR-A", 60), ("WR-B", 60), ("WR-A", 45)]
    assert records[1]["scenario"] == "other"
    assert records[1]["job_id"] == ""


def test_each_gpu_gets_its_own_records_that_never_overlap(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    script = timeline((1, [IDLE, IDLE]), (25, [busy("a"), busy("b")]), gpus=2)
    records = collect(script, key, Spool(tmp_path), record_seconds=120)
    by_gpu: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_gpu.setdefault(record["gpu_uuid"], []).append(record)
    assert sorted(by_gpu) == ["GPU-0", "GPU-1"]
    for gpu_records in by_gpu.values():
        assert sum(r["gpu_seconds"] for r in gpu_records) == 25 * 15
        for before, after in zip(gpu_records, gpu_records[1:], strict=False):
            assert before["ended_at"] <= after["started_at"]
        assert all(r["gpu_seconds"] == seconds_between(r) for r in gpu_records)


def test_energy_comes_from_the_counter_and_a_reset_splits_the_record(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    reset = {**busy("a", power_w=500), "energy_mj": 1000}
    script = timeline((1, [IDLE]), (3, [busy("a", power_w=500)]), (1, [reset]), (2, [busy("a", power_w=500)]))
    before, after = collect(script, key, Spool(tmp_path))
    assert (before["gpu_seconds"], after["gpu_seconds"]) == (45, 45)
    assert before["ended_at"] == after["started_at"]
    assert (before["energy_rule"], after["energy_rule"]) == ("counter", "reset")
    assert before["energy_wh"] + after["energy_wh"] == round(500 * 90 / 3600, 3)


def test_a_counter_that_drops_to_zero_gives_bounded_non_negative_energy(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    # No power reading (as NVML on a GPU with a counter): the interval gets what the counter counted since the reset.
    dropped = {"util": 90, "procs": [{"pid": 10, "mem_mib": 100, "job": "a"}], "energy_mj": 0}
    jump = {**dropped, "energy_mj": 10**15}
    script = timeline((1, [IDLE]), (2, [busy("a", power_w=0)]), (1, [dropped]), (1, [jump]))
    records = collect(script, key, Spool(tmp_path))
    assert [r["energy_rule"] for r in records] == ["counter", "clamped"]
    assert all(0 <= r["energy_wh"] <= r["gpu_seconds"] * 1000 / 3600 + 0.001 for r in records)
    # The reset interval counted nothing before the restart; the jump is cut to 1000 W × 15 s.
    assert records[1]["energy_wh"] == round(1000 * 15 / 3600, 3)


def test_a_driver_reload_closes_the_record_at_the_last_sample_before_it(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    script = timeline((1, [IDLE]), (4, [busy("a")]), (1, [{**busy("a"), "reload": True}]), (3, [busy("a")]))
    before, after = collect(script, key, Spool(tmp_path))
    assert before["ended_at"] == "2026-03-01T08:01:00+08:00" == after["started_at"]
    assert before["gpu_seconds"] + after["gpu_seconds"] == 8 * 15


def test_a_restarted_agent_continues_without_recording_time_twice(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    script = timeline((1, [IDLE]), (40, [busy("a")]))
    spool = Spool(tmp_path / "spool")
    # First life: killed after 27 samples, so the window in progress is never closed.
    first = collect(script, key, spool, record_seconds=120, limit=27, flush=False)
    second = collect(script, key, Spool(tmp_path / "spool"), record_seconds=120)
    records = first + second
    assert sum(r["gpu_seconds"] for r in records) == 40 * 15
    for before, after in zip(records, records[1:], strict=False):
        assert before["ended_at"] == after["started_at"]
    assert len({r["record_id"] for r in records}) == len(records)


def test_the_run_loop_stores_open_windows_when_stopped(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    spool = Spool(tmp_path)
    backend = FakeBackend.from_script(timeline((1, [IDLE]), (6, [busy("a")])))
    collector = Collector(node_id="n", key=key, spool=spool)
    collector.run(backend, interval=15, stop=threading.Event())
    assert [e.record["gpu_seconds"] for e in spool.pending()] == [90]
    assert spool.load_state()["high_water"] == {"GPU-0": "2026-03-01T08:01:30+08:00"}


def test_a_timeline_needs_an_offset_and_gpus() -> None:
    with pytest.raises(BackendError):
        FakeBackend.from_script({"start": "2026-03-01T08:00:00", "gpus": []})
    with pytest.raises(BackendError):
        FakeBackend.from_script({"start": "2026-03-01T08:00:00+08:00"})
