"""The NVML backend against a stand-in ``pynvml`` (the hardware edge) answering like the H200 probe."""

from __future__ import annotations

import sys
import types
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from agent.attribution import Attributor
from agent.backends import BackendError, NvmlBackend


class NVMLError(Exception):
    pass


def fake_pynvml(*, count: int = 1, energy_supported: bool = True) -> types.ModuleType:
    module = types.ModuleType("pynvml")
    state = {"energy": 2_400_764}

    def energy(handle: object) -> int:
        if not energy_supported:
            raise NVMLError("Not Supported")
        state["energy"] += 650_000
        return state["energy"]

    module.NVMLError = NVMLError  # type: ignore[attr-defined]
    module.nvmlInit = lambda: None  # type: ignore[attr-defined]
    module.nvmlShutdown = lambda: None  # type: ignore[attr-defined]
    module.nvmlDeviceGetCount = lambda: count  # type: ignore[attr-defined]
    module.nvmlDeviceGetHandleByIndex = lambda i: f"h{i}"  # type: ignore[attr-defined]
    module.nvmlDeviceGetUUID = lambda h: "GPU-7c60d23e-f790-482a-85f4-17bba1f6b5cb"  # type: ignore[attr-defined]
    module.nvmlDeviceGetName = lambda h: b"NVIDIA H200"  # type: ignore[attr-defined]
    module.nvmlDeviceGetUtilizationRates = lambda h: SimpleNamespace(gpu=100, memory=23)  # type: ignore[attr-defined]
    module.nvmlDeviceGetMemoryInfo = lambda h: SimpleNamespace(used=1497 * 1024 * 1024)  # type: ignore[attr-defined]
    module.nvmlDeviceGetPowerUsage = lambda h: 625_546  # type: ignore[attr-defined]
    module.nvmlDeviceGetTotalEnergyConsumption = energy  # type: ignore[attr-defined]
    module.nvmlDeviceGetComputeRunningProcesses = lambda h: [  # type: ignore[attr-defined]
        SimpleNamespace(pid=416, usedGpuMemory=874 * 1024 * 1024)
    ]
    module.nvmlDeviceGetMigMode = lambda h: [0, 0]  # type: ignore[attr-defined]  # as the H200 probe answered
    return module


def test_it_reads_every_gpu_field_and_labels_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml())
    proc = tmp_path / "416"
    proc.mkdir()
    (proc / "stat").write_text("416 (python) S " + " ".join(["1"] * 30))
    (proc / "environ").write_bytes(b"YINGDU_WORK_REF=WR-9\0")
    moment = datetime(2026, 3, 1, tzinfo=UTC)
    backend = NvmlBackend(Attributor(proc_root=tmp_path), clock=lambda: moment)
    sample = backend.sample()
    (gpu,) = sample.gpus
    assert sample.at == moment
    assert (gpu.uuid, gpu.model, gpu.util_pct, gpu.mem_used_mib, gpu.power_mw) == (
        "GPU-7c60d23e-f790-482a-85f4-17bba1f6b5cb",
        "NVIDIA H200",
        100.0,
        874,
        None,
    )
    assert gpu.energy_mj == 2_400_764 + 2 * 650_000  # one read when probing, one in the sample
    (process,) = gpu.processes
    assert (process.pid, process.used_mib, process.labels.work_ref) == (416, 874, "WR-9")  # type: ignore[union-attr]
    backend.close()


def test_without_an_energy_counter_power_is_read_instead(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(energy_supported=False))
    gpu = NvmlBackend().sample().gpus[0]
    assert (gpu.energy_mj, gpu.power_mw) == (None, 625_546)


def test_power_is_read_on_request_and_memory_when_processes_hide_theirs(monkeypatch: pytest.MonkeyPatch) -> None:
    module = fake_pynvml()
    module.nvmlDeviceGetComputeRunningProcesses = lambda h: [SimpleNamespace(pid=1, usedGpuMemory=None)]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pynvml", module)
    gpu = NvmlBackend(sample_power=True).sample().gpus[0]
    assert (gpu.power_mw, gpu.mem_used_mib) == (625_546, 1497)


def test_no_gpu_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(count=0))
    with pytest.raises(BackendError, match="no GPU"):
        NvmlBackend()
