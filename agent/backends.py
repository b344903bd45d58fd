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

``energy_mj`` in a tick sets the counter; otherwise it grows by ``power_w`` × interval;
``reload: true`` is a driver reload (new epoch, counter from zero). A process may give its
``sm_util`` (NVML per-process utilisation, percent), or only its ``pid``: then the backend's
attributor labels it, as on a real node. A MIG-enabled GPU lists its instances::

    gpus: [{uuid: GPU-m, mig: [{uuid: MIG-1, model: "NVIDIA H200 MIG 3g.71gb", sm: 60}, …]}]
    ticks: [{gpus: [{power_w: 400, instances: [{activity: 0.9, procs: […]}, {procs: […]}]}]}]
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from agent.attribution import Attributor, Labels

log = logging.getLogger("yingdu.agent")


@dataclass(frozen=True)
class ProcessSample:
    pid: int
    used_mib: int
    labels: Labels | None
    # The process's share of the device's SMs over the last interval (NVML per-process
    # utilisation), in percent; ``None`` where the driver does not report it.
    sm_util: float | None = None


@dataclass(frozen=True)
class GpuSample:
    """One device: a whole GPU, a MIG instance (``parent_uuid`` set) or a MIG-enabled GPU (``mig_parent``).

    A MIG-enabled GPU carries the energy counter of the whole board and no processes; its
    instances carry the processes, their SM count and, where known, their activity (0–1).
    ``epoch`` changes when the driver was reloaded (the energy counter restarts then).
    """

    uuid: str
    model: str
    util_pct: float
    mem_used_mib: int
    power_mw: int | None
    energy_mj: int | None
    processes: tuple[ProcessSample, ...] = ()
    parent_uuid: str = ""
    mig_parent: bool = False
    sm_count: int = 0
    activity: float | None = None
    epoch: str = ""


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


@dataclass
class _NvmlDevice:
    handle: Any
    uuid: str
    model: str
    has_counter: bool
    # MIG instances of a MIG-enabled GPU: (handle, uuid, model, SM count).
    instances: list[tuple[Any, str, str, int]] = field(default_factory=list)


# NVML errors after which the driver is re-opened: it was reloaded or the GPU fell off the bus.
_REOPEN_ERRORS = ("NVMLError_Uninitialized", "NVMLError_GpuIsLost", "NVMLError_DriverNotLoaded")


class NvmlBackend:
    """Samples every GPU, and every MIG instance of a MIG-enabled GPU, through NVML (nvidia-ml-py).

    NVML calls are the agent's main cost (about 1.3 ms each on an H200), so a sample makes
    three per GPU: utilization, the total-energy counter and the compute processes (whose
    memory also gives the memory in use). Per-process utilisation is read only when two or
    more processes share a GPU (it decides their split). Power is read instead of the energy
    counter only on GPUs without one (``sample_power`` reads it as well, for diagnostics), and
    the memory total only when the driver hides per-process memory. Names, UUIDs and the MIG
    layout are read when NVML is opened; should NVML report the driver gone (reloaded), it is
    opened again and the samples carry a new ``epoch``.
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
        self._sample_power = sample_power
        self._attributor = attributor or Attributor()
        self._clock = clock or _now
        self._epoch = 0
        self._last_seen: dict[str, int] = {}
        self._last_util: dict[str, dict[int, float]] = {}
        self._devices = self._open()

    def _open(self) -> list[_NvmlDevice]:
        pynvml = self._nvml
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            raise BackendError(f"NVML is not available: {exc}") from exc
        count = pynvml.nvmlDeviceGetCount()
        if count == 0:
            pynvml.nvmlShutdown()
            raise BackendError("NVML found no GPU")
        devices = []
        for index in range(count):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            has_counter = self._optional(pynvml.nvmlDeviceGetTotalEnergyConsumption, handle) is not None
            device = _NvmlDevice(
                handle,
                _text(pynvml.nvmlDeviceGetUUID(handle)),
                _text(pynvml.nvmlDeviceGetName(handle)),
                has_counter,
            )
            mode = self._optional(pynvml.nvmlDeviceGetMigMode, handle)
            if mode is not None and mode[0] == 1:  # NVML_DEVICE_MIG_ENABLE
                device.instances = self._mig_instances(handle)
            devices.append(device)
        return devices

    def _mig_instances(self, handle: Any) -> list[tuple[Any, str, str, int]]:
        nvml = self._nvml
        found = []
        for slot in range(self._optional(nvml.nvmlDeviceGetMaxMigDeviceCount, handle) or 0):
            mig = self._optional(nvml.nvmlDeviceGetMigDeviceHandleByIndex, handle, slot)
            if mig is None:
                continue  # an empty slot answers "not found"
            attributes = self._optional(nvml.nvmlDeviceGetAttributes, mig)
            sm_count = int(getattr(attributes, "multiprocessorCount", 0) or 0)
            found.append(
                (mig, _text(nvml.nvmlDeviceGetUUID(mig)), _text(nvml.nvmlDeviceGetName(mig)), sm_count)
            )
        return found

    def _optional(self, call: Callable[..., Any], *args: Any) -> Any:
        try:
            return call(*args)
        except self._nvml.NVMLError as exc:
            if type(exc).__name__ in _REOPEN_ERRORS:
                raise
            return None

    def sample(self) -> Sample:
        try:
            return self._sample()
        except self._nvml.NVMLError as exc:
            # The driver went away (reload, GPU reset): open it again; the next sample carries
            # the new epoch, so no record spans the reload.
            with contextlib.suppress(self._nvml.NVMLError):
                self._nvml.nvmlShutdown()
            log.warning("NVML lost the driver (%s); opening it again", exc)
            self._devices = self._open()
            self._epoch += 1
            self._last_seen.clear()
            self._last_util.clear()
            return self._sample()

    def _sample(self) -> Sample:
        nvml = self._nvml
        gpus: list[GpuSample] = []
        at = self._clock()
        epoch = str(self._epoch) if self._epoch else ""
        for device in self._devices:
            handle = device.handle
            energy = (
                self._optional(nvml.nvmlDeviceGetTotalEnergyConsumption, handle)
                if device.has_counter
                else None
            )
            power = (
                self._optional(nvml.nvmlDeviceGetPowerUsage, handle)
                if self._sample_power or energy is None
                else None
            )
            if device.instances:
                gpus.append(
                    GpuSample(
                        uuid=device.uuid,
                        model=device.model,
                        util_pct=0.0,
                        mem_used_mib=0,
                        power_mw=int(power) if power is not None else None,
                        energy_mj=int(energy) if energy is not None else None,
                        mig_parent=True,
                        sm_count=sum(sm for *_, sm in device.instances),
                        epoch=epoch,
                    )
                )
                for mig, uuid, model, sm_count in device.instances:
                    processes = self._processes(mig, uuid, per_process_util=False)
                    gpus.append(
                        GpuSample(
                            uuid=uuid,
                            model=model,
                            util_pct=0.0,
                            mem_used_mib=self._memory(mig, processes),
                            power_mw=None,
                            energy_mj=None,
                            processes=processes,
                            parent_uuid=device.uuid,
                            sm_count=sm_count,
                            epoch=epoch,
                        )
                    )
                continue
            util = self._optional(nvml.nvmlDeviceGetUtilizationRates, handle)
            processes = self._processes(handle, device.uuid, per_process_util=True)
            gpus.append(
                GpuSample(
                    uuid=device.uuid,
                    model=device.model,
                    util_pct=float(util.gpu) if util is not None else 0.0,
                    mem_used_mib=self._memory(handle, processes),
                    power_mw=int(power) if power is not None else None,
                    energy_mj=int(energy) if energy is not None else None,
                    processes=processes,
                    epoch=epoch,
                )
            )
        self._attributor.forget_except({p.pid for g in gpus for p in g.processes})
        return Sample(at=at, gpus=tuple(gpus))

    def _processes(self, handle: Any, uuid: str, *, per_process_util: bool) -> tuple[ProcessSample, ...]:
        nvml = self._nvml
        procs = self._optional(nvml.nvmlDeviceGetComputeRunningProcesses, handle) or []
        sm_util: dict[int, float] = {}
        if per_process_util and len({int(p.pid) for p in procs}) > 1:
            sm_util = self._process_utilization(handle, uuid)
        return tuple(
            ProcessSample(
                pid=int(proc.pid),
                used_mib=int((getattr(proc, "usedGpuMemory", None) or 0) // (1024 * 1024)),
                labels=self._attributor.labels_for(int(proc.pid), uuid),
                sm_util=sm_util.get(int(proc.pid), 0.0) if sm_util else None,
            )
            for proc in procs
        )

    def _process_utilization(self, handle: Any, uuid: str) -> dict[int, float]:
        """Mean SM utilisation per pid since the last read (``nvmlDeviceGetProcessUtilization``).

        When the driver has no newer samples (it answers "not found"), the last answer stands,
        so a split does not flip between rules from one sample to the next.
        """
        samples = self._optional(
            self._nvml.nvmlDeviceGetProcessUtilization, handle, self._last_seen.get(uuid, 0)
        )
        if not samples:
            return self._last_util.get(uuid, {})
        sums: dict[int, list[float]] = {}
        for item in samples:
            sums.setdefault(int(item.pid), []).append(float(item.smUtil))
        self._last_seen[uuid] = max(int(item.timeStamp) for item in samples)
        self._last_util[uuid] = {pid: sum(values) / len(values) for pid, values in sums.items()}
        return self._last_util[uuid]

    def _memory(self, handle: Any, processes: tuple[ProcessSample, ...]) -> int:
        mem_used = sum(p.used_mib for p in processes)
        if processes and mem_used == 0:
            memory = self._optional(self._nvml.nvmlDeviceGetMemoryInfo, handle)
            mem_used = int(memory.used // (1024 * 1024)) if memory is not None else 0
        return mem_used

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
    # MIG instances: (uuid, model, SM count); empty for a whole GPU.
    instances: list[tuple[str, str, int]] = field(default_factory=list)
    epoch: int = 0


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
    attributor: Attributor | None = None

    @classmethod
    def from_script(
        cls, script: Mapping[str, Any] | str | Path, attributor: Attributor | None = None
    ) -> FakeBackend:
        if not isinstance(script, Mapping):
            script = load_script(script)
        try:
            start = datetime.fromisoformat(str(script["start"]))
            if start.tzinfo is None:
                raise BackendError("timeline start needs a UTC offset")
            gpus = [
                _FakeGpu(
                    str(g["uuid"]),
                    str(g.get("model", "NVIDIA H200")),
                    float(g.get("energy_mj", 0)),
                    [
                        (str(m["uuid"]), str(m.get("model", "MIG instance")), int(m.get("sm", 0)))
                        for m in g.get("mig", [])
                    ],
                )
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
                str(name): Labels.from_mapping(values, attributed_by="environ")
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
            attributor=attributor,
        )

    def sample(self) -> Sample | None:
        if self.position >= len(self.ticks):
            return None
        at = self.start + timedelta(seconds=self.interval * self.position)
        tick = self.ticks[self.position]
        samples: list[GpuSample] = []
        for gpu, values in zip(self.gpus, tick, strict=True):
            power_w = float(values.get("power_w", 0))
            if values.get("reload"):
                # The driver was reloaded: a new epoch, and the energy counter starts again.
                gpu.epoch += 1
                gpu.energy_mj = 0.0
            if "energy_mj" in values:
                gpu.energy_mj = float(values["energy_mj"])
            elif self.position > 0:
                gpu.energy_mj += power_w * 1000 * self.interval
            epoch = str(gpu.epoch) if gpu.epoch else ""
            power_mw, energy_mj = round(power_w * 1000), round(gpu.energy_mj)
            if gpu.instances:
                samples.append(
                    GpuSample(
                        uuid=gpu.uuid, model=gpu.model, util_pct=0.0, mem_used_mib=0, mig_parent=True,
                        sm_count=sum(sm for *_, sm in gpu.instances), power_mw=power_mw, energy_mj=energy_mj,
                        epoch=epoch,
                    )
                )  # fmt: skip
                per_instance = list(values.get("instances", []))
                per_instance += [{}] * (len(gpu.instances) - len(per_instance))
                for (uuid, model, sm_count), inst in zip(gpu.instances, per_instance, strict=True):
                    activity = inst.get("activity")
                    samples.append(
                        GpuSample(
                            uuid=uuid, model=model, util_pct=float(inst.get("util", 0)),
                            mem_used_mib=int(inst.get("mem_mib", 0)), power_mw=None, energy_mj=None,
                            processes=tuple(self._process(p, uuid) for p in inst.get("procs", [])),
                            parent_uuid=gpu.uuid, sm_count=sm_count,
                            activity=float(activity) if activity is not None else None, epoch=epoch,
                        )
                    )  # fmt: skip
                continue
            samples.append(
                GpuSample(
                    uuid=gpu.uuid,
                    model=gpu.model,
                    util_pct=float(values.get("util", 0)),
                    mem_used_mib=int(values.get("mem_mib", 0)),
                    processes=tuple(self._process(proc, gpu.uuid) for proc in values.get("procs", [])),
                    power_mw=power_mw,
                    energy_mj=energy_mj,
                    epoch=epoch,
                )
            )
        self.position += 1
        return Sample(at=at, gpus=tuple(samples))

    def _process(self, proc: Mapping[str, Any], device_uuid: str) -> ProcessSample:
        labels: Labels | None = None
        pid = int(proc.get("pid", 0))
        if "job" in proc:
            labels = self.jobs[str(proc["job"])]
        elif "labels" in proc:
            labels = Labels.from_mapping(proc["labels"], attributed_by="environ")
        elif self.attributor is not None:
            labels = self.attributor.labels_for(pid, device_uuid)
        sm_util = proc.get("sm_util")
        return ProcessSample(
            pid=pid,
            used_mib=int(proc.get("mem_mib", 0)),
            labels=labels,
            sm_util=float(sm_util) if sm_util is not None else None,
        )

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
        try:
            import yaml
        except ImportError as exc:  # the agent's own install has no PyYAML
            raise BackendError(f"{path}: YAML timelines need PyYAML; write the timeline as JSON") from exc

        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    if not isinstance(data, dict):
        raise BackendError(f"{path}: a timeline is a mapping")
    return data
