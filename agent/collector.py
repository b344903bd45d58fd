"""Turning device samples into signed usage records (docs/monitoring.md).

Devices are whole GPUs and MIG instances (a MIG instance is a device of its own, with its
own records; the MIG-enabled board itself makes none). Between two samples of a device,
the interval (previous sample, this sample] is shared among the jobs whose processes are
on it at this sample, so that no device-second is charged twice:

- one process group (one job, or one unlabelled group) on the device: it gets the whole
  interval (``split_rule`` ``exclusive``);
- several groups time-sharing the device: each gets the interval × its share of the
  per-process SM utilisation NVML reports for the interval (``process_util``), or an equal
  share where the driver reports none (``equal``). Unlabelled processes keep their share,
  which no record charges.

Per device and job, consecutive intervals with the same rule accumulate into a window; a
window closes into one record when the job leaves, when the rule changes, when it reaches
``record_seconds``, or when the driver was reloaded. A job alone on a device records under
the device's UUID; jobs time-sharing a device record under ``<uuid>/ts-<job hash>``, so the
platform's rule that one ``gpu_uuid`` has no overlapping records holds for each share.

Energy comes from the total-energy counter (millijoules): an interval gets the counter's
difference (``energy_rule`` ``counter``), or power × time on devices without a counter
(``power``). A counter that went backwards means the driver restarted it: that interval
gets power × time, else what the counter counted since the restart (``reset``), and an
increase beyond ``max_power_w`` × time is clamped to that bound (``clamped``); energy is
never negative. Time-sharing jobs get their share of the interval's energy; a MIG
instance gets the board's energy in proportion to its SMs × its activity
(``mig_sm_activity``; activity is 1 with processes, 0 without, where NVML gives none, and
SMs alone apportion an idle board).

A driver reload (an energy counter that went backwards, or a new backend epoch) closes the
device's open records at the last sample before it, so no record spans a reload.

Each record's id is derived from its content (UUID v5 over its canonical JSON), so the same
usage always yields the same record: a resend, or a record made again after a restart, is
a duplicate to the platform, never a second charge. Each record states the clock's sync
state; while the clock is known to be unsynchronised beyond the bound, closed records wait
unsigned in the spool and are signed once it is synchronised (see ``agent.clock``).

The per-device end of the last closed record is kept in the spool's state, so a restarted
agent never produces a record overlapping one it already made (a replayed fake timeline
skips what was recorded; on real GPUs time has simply moved on).
"""

from __future__ import annotations

import hashlib
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
from agent.clock import ClockPolicy, ClockProbe, ClockState, NoProbe
from agent.signing import canonical_bytes, sign_record
from agent.spool import Spool, SpoolEntry

log = logging.getLogger("yingdu.agent")

CHINA = timezone(timedelta(hours=8))
SCENARIOS = frozenset({"text2video", "image2video", "voice", "finetune", "render", "other"})
CENT = Decimal("0.01")
# The namespace of content-derived record ids (UUID v5).
RECORD_NAMESPACE = uuid.UUID("4d1c8f3e-6a0b-5e7f-9c2d-79696e676475")

EXCLUSIVE = "exclusive"
PROCESS_UTIL = "process_util"
EQUAL = "equal"
COUNTER = "counter"
POWER = "power"
RESET = "reset"
CLAMPED = "clamped"
NO_ENERGY = "none"
MIG_SM_ACTIVITY = "mig_sm_activity"
# A window names the least exact energy rule among its intervals.
ENERGY_RANK = {COUNTER: 0, MIG_SM_ACTIVITY: 1, POWER: 2, RESET: 3, CLAMPED: 4, NO_ENERGY: 5}


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


def content_id(record: dict[str, Any]) -> str:
    """The record id derived from the record's content: UUID v5 over its canonical JSON without id and signature."""
    body = {k: v for k, v in record.items() if k not in ("record_id", "signature")}
    return str(uuid.uuid5(RECORD_NAMESPACE, canonical_bytes(body).decode("utf-8")))


def share_uuid(device_uuid: str, labels: Labels) -> str:
    """The ``gpu_uuid`` of one job's share of a time-shared device."""
    who = "\0".join((labels.enterprise_uscc, labels.work_ref, labels.job_id, labels.attribution_ref))
    return f"{device_uuid}/ts-{hashlib.sha256(who.encode()).hexdigest()[:12]}"


def device_of(gpu_uuid: str) -> str:
    """The sampled device of a recorded ``gpu_uuid`` (a time-share's device is before the ``/``)."""
    return gpu_uuid.partition("/")[0]


@dataclass
class Window:
    """A job's accumulating usage on one device."""

    device_uuid: str
    gpu_uuid: str
    board_uuid: str
    gpu_model: str
    labels: Labels
    split_rule: str
    energy_rule: str
    started_at: datetime
    ended_at: datetime
    gpu_seconds: float = 0.0
    util_seconds: float = 0.0
    max_mem_mib: int = 0
    energy_mj: float = 0.0


@dataclass(frozen=True)
class Interval:
    """One device's interval between two samples: when it starts, how long, its energy and how that was got."""

    start: datetime
    seconds: float
    energy_mj: float
    energy_rule: str


@dataclass(frozen=True)
class Share:
    """One job's part of a device's interval."""

    labels: Labels
    fraction: float
    util_pct: float
    mem_mib: int


def _truncate_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def split_interval(gpu: GpuSample) -> tuple[str, list[Share]]:
    """How a device's interval is shared among the process groups on it: the rule and the labelled jobs' shares.

    Processes are grouped by job (unlabelled ones form one group of their own). One group
    takes the whole interval; several split it by their per-process SM utilisation, or
    equally where none is reported or all report zero. Fractions of all groups sum to 1;
    the unlabelled group's fraction is left out of the result (nobody is charged for it).
    """
    groups: dict[Labels | None, list[float]] = {}  # [memory MiB, SM util or -1]
    for proc in gpu.processes:
        entry = groups.setdefault(proc.labels, [0.0, -1.0])
        entry[0] += proc.used_mib
        if proc.sm_util is not None:
            entry[1] = max(entry[1], 0.0) + max(0.0, proc.sm_util)
    if not groups:
        return EXCLUSIVE, []
    if len(groups) == 1:
        ((labels, (mem, _util)),) = groups.items()
        shares = [Share(labels, 1.0, gpu.util_pct, int(mem) or gpu.mem_used_mib)] if labels else []
        return EXCLUSIVE, shares
    utils = {labels: util for labels, (_mem, util) in groups.items()}
    total = sum(max(0.0, u) for u in utils.values())
    rule = PROCESS_UTIL if total > 0 else EQUAL
    shares = []
    for labels, (mem, _util) in groups.items():
        if labels is None:
            continue
        if rule == PROCESS_UTIL:
            fraction = max(0.0, utils[labels]) / total
            util = min(100.0, max(0.0, utils[labels]))
        else:
            fraction = 1.0 / len(groups)
            util = gpu.util_pct
        shares.append(Share(labels, fraction, util, int(mem)))
    return rule, shares


def mig_weights(instances: list[GpuSample]) -> dict[str, float]:
    """Each MIG instance's part of its board's energy: SMs × activity, or SMs alone on an idle board."""
    activity = {
        g.uuid: g.activity if g.activity is not None else (1.0 if g.processes else 0.0) for g in instances
    }
    weights = {g.uuid: max(0, g.sm_count) * max(0.0, min(1.0, activity[g.uuid])) for g in instances}
    if sum(weights.values()) <= 0:
        weights = {g.uuid: float(max(0, g.sm_count)) for g in instances}
    total = sum(weights.values())
    if total <= 0:
        return {g.uuid: 1.0 / len(instances) for g in instances} if instances else {}
    return {key: value / total for key, value in weights.items()}


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
        clock_probe: ClockProbe | None = None,
        clock_policy: ClockPolicy | None = None,
        max_power_w: float = 1000.0,
        on_record: Callable[[dict[str, Any]], None] | None = None,
        on_sample: Callable[[Sample], None] | None = None,
        on_refused: Callable[[int], None] | None = None,
    ) -> None:
        self.node_id = node_id
        self.key = key
        self.spool = spool
        self.record_seconds = record_seconds
        self.price_per_gpu_hour = price_per_gpu_hour
        self.default_uscc = default_uscc.upper()
        self.sample_log = sample_log
        self.clock_probe: ClockProbe = clock_probe or NoProbe()
        self.clock_policy = clock_policy or ClockPolicy()
        self.clock: ClockState = ClockState(None)
        self.max_power_w = max_power_w
        self.on_record = on_record
        self.on_sample = on_sample
        self.on_refused = on_refused
        self._prev: dict[str, tuple[datetime, int | None, str]] = {}
        self._open: dict[tuple[str, str, Labels], Window] = {}
        self._held: list[dict[str, Any]] = []
        self._promoting: list[SpoolEntry] = []
        self.high_water: dict[str, datetime] = self._load_high_water()
        self.records_closed = 0
        self.signing_refusals = 0

    def _load_high_water(self) -> dict[str, datetime]:
        marks: dict[str, datetime] = {}
        for gpu, text in dict(self.spool.load_state().get("high_water", {})).items():
            marks[gpu] = parse_time(text)
        # A record spooled just before a crash may be newer than the saved state.
        for entry in [*self.spool.pending(), *self.spool.unsigned()]:
            gpu, ended = entry.record.get("gpu_uuid"), entry.record.get("ended_at")
            if isinstance(gpu, str) and isinstance(ended, str):
                device, moment = device_of(gpu), parse_time(ended)
                if device not in marks or moment > marks[device]:
                    marks[device] = moment
        return marks

    # -- sampling ----------------------------------------------------------------------------

    def step(self, sample: Sample) -> list[dict[str, Any]]:
        """Account one sample; returns the records now signed (closed, or held until the clock synced).

        Records closed while the clock may not be trusted go to the spool's ``unsigned/``
        at once; ``store`` writes the returned ones to ``pending/``.
        """
        at = _truncate_ms(sample.at)
        self.clock = self.clock_probe.read()
        closed: list[dict[str, Any]] = []
        if self.sample_log is not None:
            self._log_sample(at, sample)
        if self.on_sample is not None:
            self.on_sample(sample)
        intervals: dict[str, Interval] = {}
        boards = [g for g in sample.gpus if not g.parent_uuid]
        instances: dict[str, list[GpuSample]] = {}
        for gpu in sample.gpus:
            if gpu.parent_uuid:
                instances.setdefault(gpu.parent_uuid, []).append(gpu)
        for gpu in boards:
            interval, reloaded = self._interval(gpu, at, gpu.energy_mj, gpu.power_mw)
            if reloaded:
                closed += self._close_device(gpu.uuid, board=True)
            if interval is not None:
                intervals[gpu.uuid] = interval
            if not gpu.mig_parent and interval is not None:
                closed += self._account(gpu, gpu.uuid, interval)
            elif not gpu.mig_parent:
                closed += self._close_device(gpu.uuid)
        for parent_uuid, members in instances.items():
            board = intervals.get(parent_uuid)
            weights = mig_weights(members)
            for gpu in members:
                own, reloaded = self._interval(gpu, at, None, None)
                if reloaded:
                    closed += self._close_device(gpu.uuid)
                if own is None or board is None:
                    closed += self._close_device(gpu.uuid)
                    continue
                part = board.energy_mj * weights.get(gpu.uuid, 0.0) * min(1.0, own.seconds / board.seconds)
                # The board's rule stands where it is less exact than the apportioning (a reset, power alone).
                rule = (
                    board.energy_rule
                    if ENERGY_RANK[board.energy_rule] > ENERGY_RANK[MIG_SM_ACTIVITY]
                    else MIG_SM_ACTIVITY
                )
                interval = Interval(own.start, own.seconds, part, rule)
                closed += self._account(gpu, parent_uuid, interval)
        return self._sign_or_hold(closed)

    def _interval(
        self, gpu: GpuSample, at: datetime, energy_mj: int | None, power_mw: int | None
    ) -> tuple[Interval | None, bool]:
        """The device's interval ending at ``at`` (``None`` for its first sample) and whether the driver reloaded."""
        previous = self._prev.get(gpu.uuid)
        self._prev[gpu.uuid] = (at, energy_mj, gpu.epoch)
        if previous is None:
            return None, False
        prev_at, prev_energy, prev_epoch = previous
        counter_reset = energy_mj is not None and prev_energy is not None and energy_mj < prev_energy
        reloaded = counter_reset or gpu.epoch != prev_epoch
        start = prev_at
        mark = self.high_water.get(gpu.uuid)
        if mark is not None and mark > start:
            start = mark
        if at <= start:
            return None, reloaded
        seconds = (at - start).total_seconds()
        full = (at - prev_at).total_seconds()
        bound = self.max_power_w * 1000 * seconds
        energy, rule = 0.0, NO_ENERGY
        if energy_mj is not None and prev_energy is not None and not reloaded:
            energy, rule = float(energy_mj - prev_energy) * min(1.0, seconds / full), COUNTER
        elif reloaded and (power_mw is not None or energy_mj is not None):
            # The counter restarted inside the interval: what it counted since then, or power × time.
            energy = power_mw * seconds if power_mw is not None else float(energy_mj or 0)
            rule = RESET
        elif power_mw is not None:
            energy, rule = power_mw * seconds, POWER
        if energy > bound:
            energy, rule = bound, CLAMPED
        return Interval(start, seconds, max(0.0, energy), rule), reloaded

    def _account(self, gpu: GpuSample, board_uuid: str, interval: Interval) -> list[dict[str, Any]]:
        """Add a device's interval to its jobs' windows; returns the records this closes (unsigned)."""
        rule, shares = split_interval(gpu)
        labelled = [s for s in shares if s.fraction > 0]
        closed: list[dict[str, Any]] = []
        wanted: dict[tuple[str, str, Labels], Share] = {}
        for share in labelled:
            gpu_uuid = gpu.uuid if len(labelled) == 1 else share_uuid(gpu.uuid, share.labels)
            wanted[(gpu.uuid, gpu_uuid, share.labels)] = share
        energy_rule = interval.energy_rule
        for key, current in list(self._open.items()):
            if key[0] != gpu.uuid:
                continue
            if key not in wanted or current.ended_at != interval.start or current.split_rule != rule:
                closed.append(self._close(key))
        for key, share in wanted.items():
            found = self._open.get(key)
            if found is not None:
                window = found
            else:
                window = Window(
                    device_uuid=gpu.uuid, gpu_uuid=key[1], board_uuid=board_uuid, gpu_model=gpu.model,
                    labels=share.labels, split_rule=rule, energy_rule=energy_rule,
                    started_at=interval.start, ended_at=interval.start,
                )  # fmt: skip
                self._open[key] = window
            seconds = interval.seconds * share.fraction
            if ENERGY_RANK[energy_rule] > ENERGY_RANK[window.energy_rule]:
                window.energy_rule = energy_rule
            window.ended_at = interval.start + timedelta(seconds=interval.seconds)
            window.gpu_seconds += seconds
            window.util_seconds += share.util_pct * seconds
            window.max_mem_mib = max(window.max_mem_mib, share.mem_mib or gpu.mem_used_mib)
            window.energy_mj += interval.energy_mj * share.fraction
            if (window.ended_at - window.started_at).total_seconds() >= self.record_seconds:
                closed.append(self._close(key))
        return closed

    def _close_device(self, device_uuid: str, *, board: bool = False) -> list[dict[str, Any]]:
        """Close every open window on a device (and, for a board, on its MIG instances)."""
        keys = [
            k for k, w in self._open.items() if k[0] == device_uuid or (board and w.board_uuid == device_uuid)
        ]
        return [self._close(key) for key in keys]

    def flush(self) -> list[dict[str, Any]]:
        """Close every open window (the agent is stopping)."""
        return self._sign_or_hold([self._close(key) for key in list(self._open)])

    def _close(self, key: tuple[str, str, Labels]) -> dict[str, Any]:
        window = self._open.pop(key)
        gpu_seconds = round(window.gpu_seconds, 3)
        record: dict[str, Any] = {
            "record_id": "",
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
            "avg_util_pct": min(100.0, round(window.util_seconds / window.gpu_seconds, 1))
            if window.gpu_seconds
            else 0.0,
            "max_mem_mib": window.max_mem_mib,
            "energy_wh": round(window.energy_mj / 3_600_000, 3),
            "cost_cny": cost_for(gpu_seconds, self.price_per_gpu_hour),
            "device_uuid": window.board_uuid,
            "split_rule": window.split_rule,
            "energy_rule": window.energy_rule,
            "attribution": window.labels.attributed_by or "environ",
            "attribution_ref": window.labels.attribution_ref,
            "clock_sync": self.clock.label,
        }
        if self.clock.max_error_ms is not None:
            record["clock_max_error_ms"] = self.clock.max_error_ms
        record["record_id"] = content_id(record)
        mark = self.high_water.get(window.device_uuid)
        if mark is None or window.ended_at > mark:
            self.high_water[window.device_uuid] = window.ended_at
        self.records_closed += 1
        return record

    def _sign_or_hold(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Sign closed records, and those held earlier, while the clock may be trusted; hold them otherwise."""
        if not self.clock_policy.may_sign(self.clock):
            if records:
                self.signing_refusals += len(records)
                if self.on_refused is not None:
                    self.on_refused(len(records))
                log.warning(
                    "clock unsynchronised (max error %s ms): %d records wait unsigned",
                    self.clock.max_error_ms,
                    len(records),
                )
                self.spool.put_many(records, state=self.state(), unsigned=True)
            return []
        held = self.spool.unsigned()
        self._promoting = held
        signed = [sign_record(e.record, self.key) for e in held] + [sign_record(r, self.key) for r in records]
        if self.on_record is not None:
            for record in signed:
                self.on_record(record)
        return signed

    def state(self) -> dict[str, Any]:
        return {"high_water": {gpu: isoformat(moment) for gpu, moment in sorted(self.high_water.items())}}

    def store(self, records: list[dict[str, Any]]) -> None:
        """Write closed records durably, together with the new high-water marks."""
        if records:
            self.spool.put_many(records, state=self.state())
        if self._promoting:
            # Only now that their signed versions are durable in pending/.
            self.spool.drop_unsigned(self._promoting)
        self._promoting = []

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
