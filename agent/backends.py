"""Where samples come from: NVML on a GPU node, or a scripted timeline in tests.

A backend answers ``sample()`` with one ``Sample``: a timestamp and, per GPU, utilization,
memory in use, power, the total-energy counter and the compute processes on it. The
collector turns successive samples into records; it never talks to NVML itself.

The fake timeline (JSON or YAML file, or a dict)::

    start: "2026-03-01T08:00:00+08:00"   # time of the first tick
    interval: 15                          # seconds between ticks (virtual time)
    time_scale: 0                         # real seconds slept per virtual second (0: no sleeping)
    gpus: [{uuid: GPU-a, model: NVIDIA H200, energy_mj: 0}]
    jobs: {j1: {YINGDU_WORK_REF: "…", YINGDU_ENTERPRISE_USCC: "…", YINGDU_JOB_ID: "…"}}
    ticks:
      - repeat: 8                         # this tick, 8 times
        gpus:
          - {util: 90, mem_mib: 70000, power_w: 650, procs: [{pid: 101, mem_mib: 69000, job: j1}]}

``energy_mj`` in a tick sets the counter; otherwise it grows by ``power_w`` × interval.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from agent.attribution import Attributor, Labels


@dataclass(frozen=True)
class ProcessSample:
    pid: int
    used_mib: int
    labels: Labels | None


@dataclass(frozen=True)
class GpuSample:
    uuid: str
    model: str
    util_pct: float
    mem_used_mib: int
    power_mw: int | None
    energy_mj: int | None
    processes: tuple[ProcessSample, ...] = ()


@dataclass(frozen=True)
class Sample:
    at: datetime
    gpus: tuple[GpuSample, ...]


class Backend(Protocol):
    def sample(self) -> Sample | None:
        """The next sample; ``None`` when a scripted timeline has ended."""

    def wait(self, seconds: float, stop: threading.Event) -> None:
        """Sleep until the next sample is due, or until ``stop`` is set."""

    def close(self) -> None: ...


class BackendError(RuntimeError):
    """The GPU backend cannot be used (no driver, no GPU, bad timeline)."""


# --------------------------------------------------------------------------------------------
# NVML


class NvmlBackend:
    """Samples every GPU through NVML (nvidia-ml-py).

    NVML calls are the agent's main cost (about 1.3 ms each on an H200), so a sample makes
    three per GPU: utilization, the total-energy counter and the compute processes (whose
    memory also gives the memory in use). Power is read instead of the energy counter only
    on GPUs without one (``sample_power`` reads it as well, for diagnostics), and the memory
    total only when the driver hides per-process memory. Name and UUID are read once.
    """

    def __init__(
        self,
        attributor: Attributor | None = None,
        clock: Callable[[], datetime] | None = None,
        *,
        sample_power: bool = False,
    ) -> None:
        try:
            import pynvml
        except ImportError as exc:  # pragma: no cover - nvidia-ml-py is a dependency
            raise BackendError("nvidia-ml-py is not installed") from exc
        self._nvml = pynvml
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            raise BackendError(f"NVML is not available: {exc}") from exc
        count = pynvml.nvmlDeviceGetCount()
        if count == 0:
            pynvml.nvmlShutdown()
            raise BackendError("NVML found no GPU")
        self._devices: list[tuple[Any, str, str, bool]] = []
        for index in range(count):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            has_counter = self._optional(pynvml.nvmlDeviceGetTotalEnergyConsumption, handle) is not None
            self._devices.append(
                (
                    handle,
                    _text(pynvml.nvmlDeviceGetUUID(handle)),
                    _text(pynvml.nvmlDeviceGetName(handle)),
                    has_counter,
                )
            )
        self._sample_power = sample_power
        self._attributor = attributor or Attributor()
        self._clock = clock or _now

    def _optional(self, call: Callable[..., Any], *args: Any) -> Any:
        try:
            return call(*args)
        except self._nvml.NVMLError:
            return None

    def sample(self) -> Sample:
        nvml = self._nvml
        gpus = []
        at = self._clock()
        for handle, uuid, model, has_counter in self._devices:
            util = self._optional(nvml.nvmlDeviceGetUtilizationRates, handle)
            energy = self._optional(nvml.nvmlDeviceGetTotalEnergyConsumption, handle) if has_counter else None
            power = (
                self._optional(nvml.nvmlDeviceGetPowerUsage, handle)
                if self._sample_power or energy is None
                else None
            )
            procs = self._optional(nvml.nvmlDeviceGetComputeRunningProcesses, handle) or []
            processes = tuple(
                ProcessSample(
                    pid=int(proc.pid),
                    used_mib=int((getattr(proc, "usedGpuMemory", None) or 0) // (1024 * 1024)),
                    labels=self._attributor.labels_for(int(proc.pid)),
                )
                for proc in procs
            )
            mem_used = sum(p.used_mib for p in processes)
            if processes and mem_used == 0:
                memory = self._optional(nvml.nvmlDeviceGetMemoryInfo, handle)
                mem_used = int(memory.used // (1024 * 1024)) if memory is not None else 0
            gpus.append(
                GpuSample(
                    uuid=uuid,
                    model=model,
                    util_pct=float(util.gpu) if util is not None else 0.0,
                    mem_used_mib=mem_used,
                    power_mw=int(power) if power is not None else None,
                    energy_mj=int(energy) if energy is not None else None,
                    processes=processes,
                )
            )
        self._attributor.forget_except({p.pid for g in gpus for p in g.processes})
        return Sample(at=at, gpus=tuple(gpus))

    def wait(self, seconds: float, stop: threading.Event) -> None:
        stop.wait(max(0.0, seconds))

    def close(self) -> None:
        with contextlib.suppress(self._nvml.NVMLError):
            self._nvml.nvmlShutdown()


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _now() -> datetime:
    return datetime.now().astimezone()


# --------------------------------------------------------------------------------------------
# Scripted timeline


@dataclass
class _FakeGpu:
    uuid: str
    model: str
    energy_mj: float


@dataclass
class FakeBackend:
    """Replays a scripted GPU timeline (see the module docstring) so tests run without a GPU."""

    start: datetime
    interval: float
    gpus: list[_FakeGpu]
    ticks: list[list[dict[str, Any]]]
    jobs: dict[str, Labels] = field(default_factory=dict)
    time_scale: float = 0.0
    position: int = 0

    @classmethod
    def from_script(cls, script: Mapping[str, Any] | str | Path) -> FakeBackend:
        if not isinstance(script, Mapping):
            script = load_script(script)
        try:
            start = datetime.fromisoformat(str(script["start"]))
            if start.tzinfo is None:
                raise BackendError("timeline start needs a UTC offset")
            gpus = [
                _FakeGpu(str(g["uuid"]), str(g.get("model", "NVIDIA H200")), float(g.get("energy_mj", 0)))
                for g in script["gpus"]
            ]
            ticks: list[list[dict[str, Any]]] = []
            for tick in script.get("ticks", []):
                per_gpu = list(tick.get("gpus", []))
                if len(per_gpu) > len(gpus):
                    raise BackendError("a tick lists more GPUs than the timeline has")
                per_gpu += [{}] * (len(gpus) - len(per_gpu))
                ticks.extend([per_gpu] * int(tick.get("repeat", 1)))
            jobs = {
                str(name): Labels.from_mapping(values)
                for name, values in dict(script.get("jobs", {})).items()
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise BackendError(f"bad fake timeline: {exc}") from exc
        return cls(
            start=start,
            interval=float(script.get("interval", 15)),
            gpus=gpus,
            ticks=ticks,
            jobs=jobs,
            time_scale=float(script.get("time_scale", 0)),
        )

    def sample(self) -> Sample | None:
        if self.position >= len(self.ticks):
            return None
        at = self.start + timedelta(seconds=self.interval * self.position)
        tick = self.ticks[self.position]
        samples = []
        for gpu, values in zip(self.gpus, tick, strict=True):
            power_w = float(values.get("power_w", 0))
            if "energy_mj" in values:
                gpu.energy_mj = float(values["energy_mj"])
            elif self.position > 0:
                gpu.energy_mj += power_w * 1000 * self.interval
            processes = tuple(self._process(proc) for proc in values.get("procs", []))
            samples.append(
                GpuSample(
                    uuid=gpu.uuid,
                    model=gpu.model,
                    util_pct=float(values.get("util", 0)),
                    mem_used_mib=int(values.get("mem_mib", 0)),
                    power_mw=round(power_w * 1000),
                    energy_mj=round(gpu.energy_mj),
                    processes=processes,
                )
            )
        self.position += 1
        return Sample(at=at, gpus=tuple(samples))

    def _process(self, proc: Mapping[str, Any]) -> ProcessSample:
        labels: Labels | None = None
        if "job" in proc:
            labels = self.jobs[str(proc["job"])]
        elif "labels" in proc:
            labels = Labels.from_mapping(proc["labels"])
        return ProcessSample(pid=int(proc.get("pid", 0)), used_mib=int(proc.get("mem_mib", 0)), labels=labels)

    def wait(self, seconds: float, stop: threading.Event) -> None:
        # Virtual time advances by the timeline's own interval; ``seconds`` is the agent's.
        if self.time_scale > 0:
            stop.wait(self.interval * self.time_scale)

    def close(self) -> None:
        return None


def load_script(path: str | Path) -> dict[str, Any]:
    """Read a fake timeline from JSON or YAML (YAML needs PyYAML, present on the platform side)."""
    text = Path(path).read_text(encoding="utf-8")
    if str(path).endswith((".yaml", ".yml")):
        import yaml

        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    if not isinstance(data, dict):
        raise BackendError(f"{path}: a timeline is a mapping")
    return data
