"""Turning GPU samples into signed usage records (docs/monitoring.md).

Between two samples of a GPU, the interval (previous sample, this sample] belongs to the
job running on it at this sample. Per GPU, consecutive intervals of the same job are
accumulated into a window; the window is closed into one record when the job leaves the
GPU, when another job takes it, or when the window reaches ``record_seconds``. Closed
records are signed and written to the spool before anything is sent.

Records are per GPU (``gpu_count`` 1) and the windows of one GPU never overlap, which is
what the platform checks. When several labelled jobs share one GPU at the same moment,
the interval goes to the job holding the most GPU memory: splitting it would create two
records of the same GPU for the same time.

Energy comes from the GPU's total-energy counter (millijoules): the record's ``energy_wh``
is the counter's difference over its intervals. Where the counter is missing or went
backwards (driver reload), the interval falls back to power × time.

The per-GPU end of the last closed record is kept in the spool's state, so a restarted
agent never produces a record overlapping one it already made (a replayed fake timeline
skips what was recorded; on real GPUs time has simply moved on).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.attribution import Labels
from agent.backends import Backend, GpuSample, Sample
from agent.signing import sign_record
from agent.spool import Spool

log = logging.getLogger("yingdu.agent")

CHINA = timezone(timedelta(hours=8))
SCENARIOS = frozenset({"text2video", "image2video", "voice", "finetune", "render", "other"})
CENT = Decimal("0.01")


def isoformat(moment: datetime) -> str:
    """ISO 8601 in China Standard Time (+08:00), whole seconds unless the moment has milliseconds."""
    local = moment.astimezone(CHINA)
    return local.isoformat(timespec="milliseconds" if local.microsecond else "seconds")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def cost_for(gpu_seconds: float, price_per_gpu_hour: Decimal) -> str:
    """``cost_cny`` as a two-decimal string: GPU hours × the provider's hourly price, rounded half up."""
    hours = Decimal(repr(gpu_seconds)) / Decimal(3600)
    return str((hours * price_per_gpu_hour).quantize(CENT, rounding=ROUND_HALF_UP))


@dataclass
class Window:
    """A job's accumulating usage on one GPU."""

    gpu_uuid: str
    gpu_model: str
    labels: Labels
    started_at: datetime
    ended_at: datetime
    gpu_seconds: float = 0.0
    util_seconds: float = 0.0
    max_mem_mib: int = 0
    energy_mj: float = 0.0


def _truncate_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def dominant_job(gpu: GpuSample) -> tuple[Labels, int] | None:
    """The labelled job holding the most memory on this GPU and that memory in MiB, or ``None``."""
    per_job: dict[Labels, int] = {}
    for proc in gpu.processes:
        if proc.labels is not None:
            per_job[proc.labels] = per_job.get(proc.labels, 0) + proc.used_mib
    if not per_job:
        return None
    labels = max(per_job, key=lambda lab: (per_job[lab], lab.work_ref, lab.job_id))
    return labels, per_job[labels]


class Collector:
    """Accumulates samples into windows and closes them into signed, spooled records."""

    def __init__(
        self,
        *,
        node_id: str,
        key: Ed25519PrivateKey,
        spool: Spool,
        record_seconds: float = 300.0,
        price_per_gpu_hour: Decimal = Decimal("0.00"),
        default_uscc: str = "",
        sample_log: IO[str] | None = None,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.node_id = node_id
        self.key = key
        self.spool = spool
        self.record_seconds = record_seconds
        self.price_per_gpu_hour = price_per_gpu_hour
        self.default_uscc = default_uscc.upper()
        self.sample_log = sample_log
        self.new_id = new_id
        self._prev: dict[str, tuple[datetime, int | None]] = {}
        self._open: dict[str, Window] = {}
        self.high_water: dict[str, datetime] = self._load_high_water()
        self.records_closed = 0

    def _load_high_water(self) -> dict[str, datetime]:
        marks: dict[str, datetime] = {}
        for gpu, text in dict(self.spool.load_state().get("high_water", {})).items():
            marks[gpu] = parse_time(text)
        # A record spooled just before a crash may be newer than the saved state.
        for entry in self.spool.pending():
            gpu, ended = entry.record.get("gpu_uuid"), entry.record.get("ended_at")
            if isinstance(gpu, str) and isinstance(ended, str):
                moment = parse_time(ended)
                if gpu not in marks or moment > marks[gpu]:
                    marks[gpu] = moment
        return marks

    # -- sampling ----------------------------------------------------------------------------

    def step(self, sample: Sample) -> list[dict[str, Any]]:
        """Account one sample; returns the records it closed (signed, not yet spooled)."""
        at = _truncate_ms(sample.at)
        closed: list[dict[str, Any]] = []
        if self.sample_log is not None:
            self._log_sample(at, sample)
        for gpu in sample.gpus:
            previous = self._prev.get(gpu.uuid)
            self._prev[gpu.uuid] = (at, gpu.energy_mj)
            if previous is None:
                continue
            prev_at, prev_energy = previous
            start = prev_at
            mark = self.high_water.get(gpu.uuid)
            if mark is not None and mark > start:
                start = mark
            if at <= start:
                continue
            seconds = (at - start).total_seconds()
            energy = self._energy_mj(gpu, prev_at, prev_energy, at, start)
            job = dominant_job(gpu)
            window = self._open.get(gpu.uuid)
            if window is not None and (job is None or window.labels != job[0] or window.ended_at != start):
                closed.append(self._close(gpu.uuid))
                window = None
            if job is None:
                continue
            labels, job_mem = job
            if window is None:
                window = Window(gpu.uuid, gpu.model, labels, started_at=start, ended_at=start)
                self._open[gpu.uuid] = window
            window.ended_at = at
            window.gpu_seconds += seconds
            window.util_seconds += gpu.util_pct * seconds
            window.max_mem_mib = max(window.max_mem_mib, job_mem or gpu.mem_used_mib)
            window.energy_mj += energy
            if (window.ended_at - window.started_at).total_seconds() >= self.record_seconds:
                closed.append(self._close(gpu.uuid))
        return closed

    @staticmethod
    def _energy_mj(
        gpu: GpuSample, prev_at: datetime, prev_energy: int | None, at: datetime, start: datetime
    ) -> float:
        seconds = (at - start).total_seconds()
        if gpu.energy_mj is not None and prev_energy is not None and gpu.energy_mj >= prev_energy:
            delta = float(gpu.energy_mj - prev_energy)
            full = (at - prev_at).total_seconds()
            return delta * seconds / full if full > seconds else delta
        if gpu.power_mw is not None:
            return gpu.power_mw * seconds
        return 0.0

    def flush(self) -> list[dict[str, Any]]:
        """Close every open window (the agent is stopping)."""
        return [self._close(gpu) for gpu in list(self._open)]

    def _close(self, gpu_uuid: str) -> dict[str, Any]:
        window = self._open.pop(gpu_uuid)
        gpu_seconds = round(window.gpu_seconds, 3)
        record = {
            "record_id": self.new_id(),
            "node_id": self.node_id,
            "enterprise_uscc": window.labels.enterprise_uscc or self.default_uscc,
            "work_ref": window.labels.work_ref,
            "job_id": window.labels.job_id,
            "scenario": window.labels.scenario if window.labels.scenario in SCENARIOS else "other",
            "gpu_model": window.gpu_model,
            "gpu_uuid": window.gpu_uuid,
            "gpu_count": 1,
            "started_at": isoformat(window.started_at),
            "ended_at": isoformat(window.ended_at),
            "gpu_seconds": gpu_seconds,
            "avg_util_pct": round(window.util_seconds / window.gpu_seconds, 1) if window.gpu_seconds else 0.0,
            "max_mem_mib": window.max_mem_mib,
            "energy_wh": round(window.energy_mj / 3_600_000, 3),
            "cost_cny": cost_for(gpu_seconds, self.price_per_gpu_hour),
        }
        mark = self.high_water.get(gpu_uuid)
        if mark is None or window.ended_at > mark:
            self.high_water[gpu_uuid] = window.ended_at
        self.records_closed += 1
        return sign_record(record, self.key)

    def state(self) -> dict[str, Any]:
        return {"high_water": {gpu: isoformat(moment) for gpu, moment in sorted(self.high_water.items())}}

    def store(self, records: list[dict[str, Any]]) -> None:
        """Write closed records durably, together with the new high-water marks."""
        if records:
            self.spool.put_many(records, state=self.state())

    def _log_sample(self, at: datetime, sample: Sample) -> None:
        assert self.sample_log is not None
        line = {
            "at": isoformat(at),
            "t": at.timestamp(),
            "gpus": [
                {
                    "uuid": g.uuid,
                    "util": g.util_pct,
                    "mem_mib": g.mem_used_mib,
                    "power_mw": g.power_mw,
                    "energy_mj": g.energy_mj,
                    "procs": [
                        [p.pid, p.used_mib, p.labels.work_ref if p.labels else None] for p in g.processes
                    ],
                }
                for g in sample.gpus
            ],
        }
        self.sample_log.write(json.dumps(line, ensure_ascii=False) + "\n")
        self.sample_log.flush()

    # -- the loop ----------------------------------------------------------------------------

    def run(
        self,
        backend: Backend,
        *,
        interval: float,
        stop: threading.Event,
        deadline: float | None = None,
        on_stored: Callable[[int], None] | None = None,
    ) -> None:
        """Sample every ``interval`` seconds until ``stop``, the deadline or the end of a timeline.

        Open windows are closed and stored on the way out, so a clean stop (SIGTERM)
        loses nothing; a SIGKILL loses only the window in progress.
        """
        next_due = time.monotonic()
        try:
            while not stop.is_set():
                sample = backend.sample()
                if sample is None:
                    break
                closed = self.step(sample)
                if closed:
                    self.store(closed)
                    if on_stored is not None:
                        on_stored(len(closed))
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    break
                next_due = max(next_due + interval, now)
                backend.wait(next_due - now, stop)
        finally:
            closed = self.flush()
            self.store(closed)
            if closed and on_stored is not None:
                on_stored(len(closed))
