"""Huawei Ascend NPUs: samples from ``npu-smi info``, turned into the same records as GPUs.

``npu-smi info`` prints one block per NPU card: a row with the card's id, name, health and
power (W), and one row per chip with its bus id, AI Core utilisation (%) and memory
(``used / total`` MB, then HBM on training chips); below, a table of the processes on each
chip (card, chip, pid, name, memory). Each chip is a device; its ``gpu_uuid`` is
``NPU-<node>-<bus id>[-<chip>]`` (npu-smi shows no UUID; the bus id is stable on a node).
npu-smi has no energy counter, so energy is power × time (``energy_rule`` ``power``); a
card's power is shared equally by its chips; per-process utilisation is not reported, so
processes of several jobs on one chip split it equally (``split_rule`` ``equal``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from agent.attribution import Attributor
from agent.backends import BackendError, GpuSample, ProcessSample, Sample

_BUS_ID = re.compile(r"^[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f]$")
_CARD = re.compile(r"^(\d+)\s+(\S.*)$")
_IDS = re.compile(r"^(\d+)(?:\s+(\d+))?$")
_PAIR = re.compile(r"(\d+|NA)\s*/\s*(\d+|NA)")


@dataclass
class NpuChip:
    card: int
    chip: int
    name: str
    bus_id: str
    power_w: float | None
    aicore_pct: float
    memory_used_mb: int
    processes: list[tuple[int, int]] = field(default_factory=list)  # (pid, memory MB)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def parse_npu_smi(text: str) -> list[NpuChip]:
    """The chips of an ``npu-smi info`` output, with their processes."""
    chips: list[NpuChip] = []
    card: tuple[int, str, float | None] | None = None
    card_chips: list[NpuChip] = []
    in_processes = False

    def finish_card() -> None:
        # A card's power is shared equally by its chips.
        powered = [c for c in card_chips if c.power_w is not None]
        for chip in powered:
            chip.power_w = (chip.power_w or 0.0) / len(powered)
        card_chips.clear()

    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if any("Process id" in cell for cell in cells):
            finish_card()
            in_processes = True
            continue
        if len(cells) < 3:
            continue
        first, second, third = cells[0], cells[1], cells[2]
        if in_processes:
            ids = _IDS.match(first)
            if ids and second.isdigit() and len(cells) >= 4:
                memory = _number(cells[-1].split()[0]) if cells[-1] else None
                for chip in chips:
                    if (chip.card, chip.chip) == (int(ids.group(1)), int(ids.group(2) or 0)):
                        chip.processes.append((int(second), int(memory or 0)))
            continue
        chip_ids = _IDS.match(first)
        if _BUS_ID.match(second) and card is not None and chip_ids:
            values = third.split()
            pairs = _PAIR.findall(third)
            used = [(int(u) if u.isdigit() else 0, int(t) if t.isdigit() else 0) for u, t in pairs]
            hbm = used[1] if len(used) > 1 and used[1][1] > 0 else None
            memory = hbm[0] if hbm else (used[0][0] if used else 0)
            chip = NpuChip(
                card=card[0],
                chip=int(chip_ids.group(1)),
                name=card[1],
                bus_id=second,
                power_w=card[2],
                aicore_pct=(_number(values[0]) or 0.0) if values else 0.0,
                memory_used_mb=memory,
            )
            chips.append(chip)
            card_chips.append(chip)
            continue
        match = _CARD.match(first)
        if match and not match.group(2).isdigit() and not _BUS_ID.match(second):
            finish_card()
            values = third.split()
            card = (int(match.group(1)), match.group(2).strip(), _number(values[0]) if values else None)
    finish_card()
    return chips


def run_npu_smi() -> str:
    command = shutil.which("npu-smi")
    if command is None:
        raise BackendError("npu-smi is not installed (Ascend driver missing)")
    try:
        out = subprocess.run([command, "info"], capture_output=True, text=True, timeout=30, check=False)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackendError(f"npu-smi failed: {exc}") from exc
    if out.returncode != 0:
        raise BackendError(f"npu-smi failed: {out.stderr.strip()[:200]}")
    return out.stdout


class NpuSmiBackend:
    """Samples Ascend NPUs by running ``npu-smi info`` (``run`` replaces the command in tests)."""

    def __init__(
        self,
        node_id: str,
        attributor: Attributor | None = None,
        clock: Callable[[], datetime] | None = None,
        run: Callable[[], str] = run_npu_smi,
    ) -> None:
        self.node_id = node_id
        self._attributor = attributor or Attributor()
        self._clock = clock or (lambda: datetime.now().astimezone())
        self._run = run
        if not parse_npu_smi(self._run()):
            raise BackendError("npu-smi shows no NPU")

    def device_uuid(self, chip: NpuChip, chips_on_bus: int) -> str:
        suffix = f"-{chip.chip}" if chips_on_bus > 1 else ""
        return f"NPU-{self.node_id}-{chip.bus_id}{suffix}"

    def sample(self) -> Sample:
        at = self._clock()
        chips = parse_npu_smi(self._run())
        per_bus: dict[str, int] = {}
        for chip in chips:
            per_bus[chip.bus_id] = per_bus.get(chip.bus_id, 0) + 1
        devices = []
        for chip in chips:
            uuid = self.device_uuid(chip, per_bus[chip.bus_id])
            processes = tuple(
                ProcessSample(pid=pid, used_mib=memory, labels=self._attributor.labels_for(pid, uuid))
                for pid, memory in chip.processes
            )
            devices.append(
                GpuSample(
                    uuid=uuid,
                    model=f"Ascend {chip.name}",
                    util_pct=chip.aicore_pct,
                    mem_used_mib=chip.memory_used_mb,
                    power_mw=round(chip.power_w * 1000) if chip.power_w is not None else None,
                    energy_mj=None,
                    processes=processes,
                )
            )
        self._attributor.forget_except({p.pid for d in devices for p in d.processes})
        return Sample(at=at, gpus=tuple(devices))

    def wait(self, seconds: float, stop: threading.Event) -> None:
        stop.wait(max(0.0, seconds))

    def close(self) -> None:
        return None
