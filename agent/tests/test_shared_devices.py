"""Shared devices are charged once: time-sliced GPUs split by per-process utilisation, MIG instances apart."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from agent.attribution import Attributor
from agent.backends import NvmlBackend
from agent.collector import Collector
from agent.signing import generate_key
from agent.spool import Spool
from agent.tests.test_collector import IDLE, USCC, collect, seconds_between
from agent.tests.test_nvml_backend import NVMLError, fake_pynvml

JOBS = {
    "a": {"YINGDU_WORK_REF": "WR-A", "YINGDU_ENTERPRISE_USCC": USCC},
    "b": {"YINGDU_WORK_REF": "WR-B", "YINGDU_ENTERPRISE_USCC": USCC},
}
MIG_GPU = {
    "uuid": "GPU-m",
    "model": "NVIDIA H200",
    "energy_mj": 0,
    "mig": [
        {"uuid": "MIG-1", "model": "NVIDIA H200 MIG 3g.71gb", "sm": 60},
        {"uuid": "MIG-2", "model": "NVIDIA H200 MIG 1g.18gb", "sm": 16},
    ],
}


def script(gpu: dict[str, Any], *ticks: tuple[int, dict[str, Any]]) -> dict[str, Any]:
    return {
        "start": "2026-03-01T08:00:00+08:00",
        "interval": 15,
        "gpus": [gpu],
        "jobs": JOBS,
        "ticks": [{"repeat": repeat, "gpus": [values]} for repeat, values in ticks],
    }


def time_shared(util_a: float, util_b: float) -> dict[str, Any]:
    return {
        "util": 100,
        "mem_mib": 60000,
        "power_w": 600,
        "procs": [
            {"pid": 1, "mem_mib": 20000, "job": "a", "sm_util": util_a},
            {"pid": 2, "mem_mib": 30000, "job": "b", "sm_util": util_b},
        ],
    }


def test_two_time_sharing_processes_split_the_device_seconds_by_their_utilisation(tmp_path: Path) -> None:
    key = generate_key(tmp_path / "node.key")
    timeline = script({"uuid": "GPU-0", "energy_mj": 0}, (1, IDLE), (20, time_shared(70, 30)))
    records = collect(timeline, key, Spool(tmp_path / "spool"), record_seconds=150)
    by_job: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_job.setdefault(record["work_ref"], []).append(record)
    seconds = {job: sum(r["gpu_seconds"] for r in rs) for job, rs in by_job.items()}
    assert seconds == {"WR-A": pytest.approx(0.7 * 300), "WR-B": pytest.approx(0.3 * 300)}
    assert sum(seconds.values()) == pytest.approx(300)  # the device's seconds, charged once
    assert {r["split_rule"] for r in records} == {"process_util"}
    assert {r["device_uuid"] for r in records} == {"GPU-0"}
    # Each share has a gpu_uuid of its own, whose records never overlap; the energy splits the same way.
    assert len({r["gpu_uuid"] for r in by_job["WR-A"]}) == 1 != len({r["gpu_uuid"] for r in records})
    energy = {job: sum(r["energy_wh"] for r in rs) for job, rs in by_job.items()}
    assert energy["WR-A"] == pytest.approx(0.7 * 600 * 300 / 3600, abs=0.01)
    assert [r["avg_util_pct"] for r in by_job["WR-B"]] == [30, 30]
    assert all(r["gpu_seconds"] <= seconds_between(r) for r in records)


def test_without_per_process_utilisation_the_device_is_split_equally(tmp_path: Path) -> None:
    key = generate_key(tmp_path / "node.key")
    shared = time_shared(0, 0)
    for proc in shared["procs"]:
        del proc["sm_util"]
    records = collect(script({"uuid": "GPU-0"}, (1, IDLE), (4, shared)), key, Spool(tmp_path))
    assert sorted((r["work_ref"], r["gpu_seconds"], r["split_rule"]) for r in records) == [
        ("WR-A", 30, "equal"),
        ("WR-B", 30, "equal"),
    ]


def test_an_unlabelled_neighbour_keeps_its_share_uncharged(tmp_path: Path) -> None:
    key = generate_key(tmp_path / "node.key")
    shared = time_shared(60, 20)
    shared["procs"][1].pop("job")
    (record,) = collect(script({"uuid": "GPU-0"}, (1, IDLE), (4, shared)), key, Spool(tmp_path))
    assert (record["gpu_uuid"], record["gpu_seconds"], record["split_rule"]) == ("GPU-0", 45, "process_util")


def test_a_mig_devices_two_instances_get_separate_records_and_share_the_board_energy(tmp_path: Path) -> None:
    key = generate_key(tmp_path / "node.key")
    busy_mig = {
        "power_w": 400,
        "instances": [
            {"activity": 1.0, "mem_mib": 30000, "procs": [{"pid": 1, "mem_mib": 30000, "job": "a"}]},
            {"activity": 0.5, "mem_mib": 9000, "procs": [{"pid": 2, "mem_mib": 9000, "job": "b"}]},
        ],
    }
    records = collect(script(MIG_GPU, (1, {"power_w": 100}), (8, busy_mig)), key, Spool(tmp_path))
    by_uuid = {r["gpu_uuid"]: r for r in records}
    assert sorted(by_uuid) == ["MIG-1", "MIG-2"]
    one, two = by_uuid["MIG-1"], by_uuid["MIG-2"]
    assert (one["work_ref"], two["work_ref"]) == ("WR-A", "WR-B")
    assert one["gpu_seconds"] == two["gpu_seconds"] == 120
    assert one["gpu_model"] == "NVIDIA H200 MIG 3g.71gb"
    assert {r["device_uuid"] for r in records} == {"GPU-m"}
    assert {r["energy_rule"] for r in records} == {"mig_sm_activity"}
    # The board's 400 W × 120 s, apportioned 60 SMs × 1.0 : 16 SMs × 0.5.
    board_wh = 400 * 120 / 3600
    assert one["energy_wh"] == pytest.approx(board_wh * 60 / 68, abs=0.001)
    assert two["energy_wh"] == pytest.approx(board_wh * 8 / 68, abs=0.001)


def test_an_idle_mig_board_is_apportioned_by_sms_alone(tmp_path: Path) -> None:
    key = generate_key(tmp_path / "node.key")
    spool = Spool(tmp_path)
    quiet = {
        "power_w": 76,
        "instances": [{"activity": 0, "procs": [{"pid": 1, "job": "a"}]}, {"activity": 0}],
    }
    (record,) = collect(script(MIG_GPU, (1, {"power_w": 76}), (4, quiet)), key, spool)
    assert record["energy_wh"] == pytest.approx(76 * 60 / 3600 * 60 / 76, abs=0.001)


# -- NVML: what the backend reads for MIG and for time-sharing ---------------------------------


def mig_pynvml() -> Any:
    module: Any = fake_pynvml()
    instances = {
        "mig0": ("MIG-aaaa", "NVIDIA H200 MIG 3g.71gb", 60),
        "mig1": ("MIG-bbbb", "NVIDIA H200 MIG 1g.18gb", 16),
    }

    def handle_by_index(handle: str, slot: int) -> str:
        if slot >= len(instances):
            raise NVMLError("Not Found")
        return f"mig{slot}"

    module.nvmlDeviceGetMigMode = lambda h: [1, 1]
    module.nvmlDeviceGetMaxMigDeviceCount = lambda h: 7
    module.nvmlDeviceGetMigDeviceHandleByIndex = handle_by_index
    module.nvmlDeviceGetAttributes = lambda h: SimpleNamespace(multiprocessorCount=instances[h][2])
    module.nvmlDeviceGetUUID = lambda h: (
        instances[h][0] if h in instances else "GPU-7c60d23e-f790-482a-85f4-17bba1f6b5cb"
    )
    module.nvmlDeviceGetName = lambda h: instances[h][1] if h in instances else "NVIDIA H200"
    module.nvmlDeviceGetComputeRunningProcesses = lambda h: (
        [SimpleNamespace(pid=416 if h == "mig0" else 417, usedGpuMemory=874 * 1024 * 1024)]
        if h in instances
        else []
    )
    return module


def test_nvml_reads_each_mig_instance_as_a_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", mig_pynvml())
    sample = NvmlBackend(clock=lambda: datetime(2026, 3, 1, tzinfo=UTC)).sample()
    board, first, second = sample.gpus
    assert (board.mig_parent, board.sm_count, board.energy_mj is not None) == (True, 76, True)
    assert [(g.uuid, g.parent_uuid, g.sm_count) for g in (first, second)] == [
        ("MIG-aaaa", board.uuid, 60),
        ("MIG-bbbb", board.uuid, 16),
    ]
    assert [p.pid for p in first.processes] == [416]


def test_nvml_reads_per_process_utilisation_when_processes_share_a_gpu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module: Any = fake_pynvml()
    module.nvmlDeviceGetComputeRunningProcesses = lambda h: [
        SimpleNamespace(pid=416, usedGpuMemory=874 * 1024 * 1024),
        SimpleNamespace(pid=417, usedGpuMemory=874 * 1024 * 1024),
    ]
    seen: list[int] = []

    def process_utilization(handle: str, last_seen: int) -> list[SimpleNamespace]:
        seen.append(last_seen)
        if len(seen) > 2:
            raise NVMLError("Not Found")  # no newer samples
        # As the H200 answered: pid, timestamp (µs), smUtil, memUtil; several samples a pid.
        return [
            SimpleNamespace(pid=416, timeStamp=last_seen + 100, smUtil=72, memUtil=18),
            SimpleNamespace(pid=416, timeStamp=last_seen + 200, smUtil=68, memUtil=18),
            SimpleNamespace(pid=417, timeStamp=last_seen + 200, smUtil=30, memUtil=5),
        ]

    module.nvmlDeviceGetProcessUtilization = process_utilization
    monkeypatch.setitem(sys.modules, "pynvml", module)
    backend = NvmlBackend()
    gpu = backend.sample().gpus[0]
    assert [(p.pid, p.sm_util) for p in gpu.processes] == [(416, 70.0), (417, 30.0)]
    backend.sample()
    assert seen == [0, 200]  # each read asks only for samples newer than the last one seen
    # Without newer samples the last answer stands, so the split keeps its rule.
    assert [p.sm_util for p in backend.sample().gpus[0].processes] == [70.0, 30.0]


def test_the_collector_accounts_nvml_mig_samples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", mig_pynvml())
    moments = iter(datetime(2026, 3, 1, 0, 0, s, tzinfo=UTC) for s in range(0, 60, 15))
    # Label the instances' processes as a node would: through the environment.
    for pid in (416, 417):
        folder = tmp_path / "proc" / str(pid)
        folder.mkdir(parents=True)
        (folder / "stat").write_text(f"{pid} (python) S " + " ".join(["1"] * 30))
        (folder / "environ").write_bytes(f"YINGDU_WORK_REF=WR-{pid}\0".encode())
    backend = NvmlBackend(Attributor(proc_root=tmp_path / "proc"), clock=lambda: next(moments))
    collector = Collector(node_id="n", key=generate_key(tmp_path / "k"), spool=Spool(tmp_path / "s"))
    for _ in range(4):
        collector.step(backend.sample())
    records = collector.flush()
    assert sorted((r["gpu_uuid"], r["work_ref"], r["gpu_seconds"]) for r in records) == [
        ("MIG-aaaa", "WR-416", 45),
        ("MIG-bbbb", "WR-417", 45),
    ]


def test_a_driver_reload_on_a_mig_board_splits_its_instances_records(tmp_path: Path) -> None:
    key = generate_key(tmp_path / "node.key")
    busy_mig = {
        "power_w": 300,
        "instances": [{"procs": [{"pid": 1, "job": "a"}]}, {"procs": [{"pid": 2, "job": "b"}]}],
    }
    ticks = (1, {"power_w": 100}), (4, busy_mig), (1, {**busy_mig, "reload": True}), (3, busy_mig)
    records = collect(script(MIG_GPU, *ticks), key, Spool(tmp_path))
    for uuid in ("MIG-1", "MIG-2"):
        before, after = [r for r in records if r["gpu_uuid"] == uuid]
        assert before["ended_at"] == "2026-03-01T08:01:00+08:00" == after["started_at"]
        assert (before["energy_rule"], after["energy_rule"]) == ("mig_sm_activity", "reset")
        assert before["gpu_seconds"] + after["gpu_seconds"] == 8 * 15
