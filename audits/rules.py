"""Audit rules (核查规则, docs/audits.md) as pure functions: no ORM, no I/O.

Two rules live here (the second in ``audits.quarters``, re-exported):

* **Reconciliation** (对账): the figures an application declares (form rows 22–23, the parsed
  consumption detail, the settlement voucher's amount when someone entered it) against the
  usage monitored for the same enterprise and work in the tamper-evident log. The database
  side (``audits.reconciliation`` / ``audits.queries``) reduces the monitored records to a
  :class:`MonitoredSummary` and the claims of other works to :class:`Conflict` rows; this
  module turns them into :class:`Flag` objects with the numbers behind each one.
* **Quarterly spot-check sampling** (每季度随机抽查): the published algorithm, so anyone holding
  the checkpoint can recompute the sample::

      seed  = SHA-256(root hash bytes of the first checkpoint signed after the quarter ends ‖ "2026Q3")
      order = candidates sorted by SHA-256(seed ‖ application id as decimal ASCII), ascending
      k     = min(N, max(min_count, ceil(rate × N)))

**Interpretation (production window).** The platform does not record the date a work was
filed (备案), so the production window opens with the earliest declared consumption row and
closes at the end of the launch date (row 14, Asia/Shanghai). Monitored usage of the work
that started before the window or ended after it, and declared rows that end after launch,
are flagged ``outside_window``. Without declared rows only the launch end is checked.

**Interpretation (minutes).** Row 22 must equal the work's length (docs/subsidy.md), so it is not a
GPU quantity. Declared GPU time is Σ quantity × minutes of the consumption rows (card-minutes);
without rows it falls back to row 22. Monitored GPU time is Σ ``gpu_seconds`` / 60, added up in
whole milliseconds (the agent reports to the millisecond), so the total is exact and does not
depend on the order the database returns records in.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from django.utils.translation import gettext as _

from audits.quarters import (
    SHANGHAI,
    day_start,
)
from core.lib.dates import chinese_datetime
from core.lib.money import display_money, round_half_up

Severity = Literal["high", "medium", "low"]
SEVERITY_ORDER: tuple[Severity, ...] = ("high", "medium", "low")

# Flag codes, in the order flags are reported.
NO_MONITORING = "no_monitoring"
OVER_CLAIM = "over_claim"
OUTSIDE_WINDOW = "outside_window"
DOUBLE_CLAIM = "double_claim"
COST_OUTLIER = "cost_outlier"
ENDS_AFTER_WITNESS = "ends_after_witness"  # raised by audits.time_bounds, from the witnesses' cosignatures
# Usage-line flags (audits/usage_checks.py, docs/usage-formats.md).
SHARED_USAGE = "shared_usage"
PACK_OVERDRAWN = "pack_overdrawn"
VOUCHER_USED = "voucher_used"
LOW_GENERATION = "low_generation"
OVER_REPORTED = "over_reported"
FLAG_CODES = (
    NO_MONITORING,
    OVER_CLAIM,
    OUTSIDE_WINDOW,
    DOUBLE_CLAIM,
    COST_OUTLIER,
    SHARED_USAGE,
    PACK_OVERDRAWN,
    VOUCHER_USED,
    LOW_GENERATION,
    OVER_REPORTED,
    ENDS_AFTER_WITNESS,
)

# Iglewicz & Hoaglin (1993): modified z = 0.6745 (x − median) / MAD; |z| > 3.5 is an outlier.
Z_THRESHOLD = Decimal("3.5")
MAD_SCALE = Decimal("0.6745")
# When the MAD is 0 (more than half the peers share one value) the same authors scale by the
# mean absolute deviation instead: z = (x − median) / (1.253314 × MeanAD).
MEAN_AD_SCALE = Decimal("1.253314")
# Below this many peers a median says little; no outlier flag is raised.
MIN_PEERS = 5
# At most this many conflicting records are listed in a flag (the count is always complete).
MAX_LISTED = 20

MINUTE_MS = Decimal(60_000)


def flag_label(code: str) -> str:
    """Chinese name of a flag code, for pages and exports."""
    labels = {
        NO_MONITORING: _("申报用量无监控记录"),
        OVER_CLAIM: _("申报超出监控用量"),
        OUTSIDE_WINDOW: _("用量不在制作期内"),
        DOUBLE_CLAIM: _("重复申报"),
        COST_OUTLIER: _("每分钟成本异常"),
        ENDS_AFTER_WITNESS: _("结束时间晚于见证副署"),
        SHARED_USAGE: _("任务、发票或账单行被多个申请使用"),
        PACK_OVERDRAWN: _("资源包抵扣超出资源包容量"),
        VOUCHER_USED: _("使用算力券抵扣（可能重复补助）"),
        LOW_GENERATION: _("生成视频时长远低于作品时长"),
        OVER_REPORTED: _("申报用量超出提供方报送"),
    }
    return labels.get(code, code)


# --- inputs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeclaredRow:
    """One parsed row of the consumption detail (算力消耗明细单)."""

    record_id: str
    started_at: dt.datetime
    ended_at: dt.datetime
    quantity: int
    minutes: int
    amount: Decimal


@dataclass(frozen=True)
class Declared:
    """What the application declares: rows 12, 14, 22, 23, the consumption rows and the voucher."""

    total_compute_cost: Decimal | None
    compute_minutes: int | None
    work_minutes: int | None
    launch_date: dt.date | None
    rows: tuple[DeclaredRow, ...] = ()
    settlement_amount: Decimal | None = None

    @property
    def gpu_minutes(self) -> Decimal:
        """Declared card-minutes: Σ quantity × minutes of the rows, else row 22."""
        if self.rows:
            return Decimal(sum(row.quantity * row.minutes for row in self.rows))
        return Decimal(self.compute_minutes or 0)

    @property
    def cost_per_work_minute(self) -> Decimal | None:
        if not self.total_compute_cost or not self.work_minutes:
            return None
        return round_half_up(self.total_compute_cost / self.work_minutes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "total_compute_cost": _money(self.total_compute_cost),
            "compute_minutes": self.compute_minutes,
            "work_minutes": self.work_minutes,
            "launch_date": self.launch_date.isoformat() if self.launch_date else None,
            "rows": len(self.rows),
            "rows_amount": _money(sum((r.amount for r in self.rows), Decimal("0.00"))),
            "gpu_minutes": _minutes(self.gpu_minutes),
            "settlement_amount": _money(self.settlement_amount),
            "cost_per_work_minute": _money(self.cost_per_work_minute),
        }


@dataclass(frozen=True)
class Usage:
    """Monitored usage added up: number of records, GPU time in milliseconds, and cost."""

    count: int = 0
    gpu_ms: int = 0
    cost: Decimal = Decimal("0.00")

    @property
    def gpu_minutes(self) -> Decimal:
        return round_half_up(Decimal(self.gpu_ms) / MINUTE_MS)

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.count + other.count, self.gpu_ms + other.gpu_ms, self.cost + other.cost)

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "gpu_minutes": _minutes(self.gpu_minutes), "cost": _money(self.cost)}


@dataclass(frozen=True)
class MonitoredRecord:
    """One monitored usage record of the application's enterprise and work."""

    record_id: str
    gpu_uuid: str
    started_at: dt.datetime
    ended_at: dt.datetime
    gpu_seconds: float
    cost: Decimal


@dataclass(frozen=True)
class Window:
    """The production window: ``start`` inclusive, ``end`` exclusive; either may be unknown."""

    start: dt.datetime | None
    end: dt.datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {"start": _iso(self.start), "end": _iso(self.end)}


@dataclass(frozen=True)
class MonitoredSummary:
    """The monitored usage of one application, with the parts outside the production window."""

    total: Usage = field(default_factory=Usage)
    before_window: Usage = field(default_factory=Usage)
    after_window: Usage = field(default_factory=Usage)
    first_started_at: dt.datetime | None = None
    last_ended_at: dt.datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.total.as_dict(),
            "before_window": self.before_window.as_dict(),
            "after_window": self.after_window.as_dict(),
            "first_started_at": _iso(self.first_started_at),
            "last_ended_at": _iso(self.last_ended_at),
        }


@dataclass(frozen=True)
class Conflict:
    """A claim this application shares with another work or enterprise.

    ``kind`` is ``record_id`` (a declared row's record is in another application's detail, or
    is a monitored record of another work) or ``gpu_time`` (a monitored record of this work
    overlaps, on the same GPU, a monitored record of another work).
    """

    kind: Literal["record_id", "gpu_time"]
    key: str
    other_enterprise_uscc: str
    other_work_ref: str
    other_application_id: int | None = None
    cross_enterprise: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": self.key,
            "other_enterprise_uscc": self.other_enterprise_uscc,
            "other_work_ref": self.other_work_ref,
            "other_application_id": self.other_application_id,
            "cross_enterprise": self.cross_enterprise,
        }

    def sort_key(self) -> tuple[str, str, str, str, int]:
        return (
            self.kind,
            self.key,
            self.other_enterprise_uscc,
            self.other_work_ref,
            self.other_application_id or 0,
        )


@dataclass(frozen=True)
class Flag:
    """One reconciliation finding: a stable code, a severity, a Chinese message and its numbers."""

    code: str
    severity: Severity
    message: str
    numbers: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "numbers": self.numbers,
        }


# --- helpers ---------------------------------------------------------------------------------------


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(round_half_up(value))


def _minutes(value: Decimal) -> str:
    return str(round_half_up(value))


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(SHANGHAI).isoformat()


def milliseconds(seconds: float) -> int:
    """GPU-seconds as whole milliseconds, the unit GPU time is added up in (SQL: ``ROUND(s * 1000)``)."""
    return round(float(seconds) * 1000)


# --- reconciliation --------------------------------------------------------------------------------


def production_window(declared: Declared) -> Window:
    """The production window of the interpretation above."""
    start = min((row.started_at for row in declared.rows), default=None)
    end = day_start(declared.launch_date + dt.timedelta(days=1)) if declared.launch_date else None
    return Window(start, end)


def summarize(records: Iterable[MonitoredRecord], window: Window) -> MonitoredSummary:
    """Add up an application's monitored records, splitting off those outside ``window``.

    A record is *before* the window when it started before the window opened, and *after* it
    when it ended after the window closed; one record can be both.
    """
    total = before = after = Usage()
    first: dt.datetime | None = None
    last: dt.datetime | None = None
    for record in records:
        usage = Usage(1, milliseconds(record.gpu_seconds), record.cost)
        total += usage
        if window.start is not None and record.started_at < window.start:
            before += usage
        if window.end is not None and record.ended_at > window.end:
            after += usage
        first = record.started_at if first is None else min(first, record.started_at)
        last = record.ended_at if last is None else max(last, record.ended_at)
    return MonitoredSummary(total, before, after, first, last)


@dataclass(frozen=True)
class PeerStats:
    """The spread of peers' cost per work-minute: median and robust scale (see :func:`peer_stats`)."""

    count: int
    median: Decimal
    scale: Decimal
    method: str  # "mad" or "mean_ad"

    def z(self, value: Decimal) -> Decimal:
        """The modified z-score of ``value``."""
        if self.method == "mad":
            return MAD_SCALE * (value - self.median) / self.scale
        return (value - self.median) / (MEAN_AD_SCALE * self.scale)


def peer_stats(values: Sequence[Decimal]) -> PeerStats | None:
    """Median and MAD of ``values`` (mean absolute deviation when the MAD is 0).

    ``None`` when there are fewer than :data:`MIN_PEERS` values or they do not spread at all:
    without a scale no value can be called far from the others.
    """
    if len(values) < MIN_PEERS:
        return None
    median = statistics.median(sorted(values))
    deviations = sorted(abs(v - median) for v in values)
    mad = statistics.median(deviations)
    if mad > 0:
        return PeerStats(len(values), median, mad, "mad")
    mean_ad = sum(deviations, Decimal(0)) / len(deviations)
    if mean_ad > 0:
        return PeerStats(len(values), median, mean_ad, "mean_ad")
    return None


def measure_label(measure: str) -> str:
    labels = {
        "cost": _("算力成本（元）"),
        "settlement": _("结算凭证金额（元）"),
        "gpu_minutes": _("GPU 时长（卡·分钟）"),
    }
    return labels.get(measure, measure)


def _over_claim(measure: str, declared: Decimal, monitored: Decimal, tolerance: Decimal) -> Flag | None:
    limit = monitored * (1 + tolerance)
    if declared <= limit:
        return None
    ratio = (declared / monitored).quantize(Decimal("0.0001")) if monitored else None
    numbers = {
        "measure": measure,
        "declared": str(round_half_up(declared)),
        "monitored": str(round_half_up(monitored)),
        "tolerance": str(tolerance),
        "limit": str(round_half_up(limit)),
        "excess": str(round_half_up(declared - monitored)),
        "ratio": str(ratio) if ratio is not None else None,
    }
    message = _("%(label)s：申报 %(declared)s，监控 %(monitored)s，超出容差 %(pct)s%% 的上限 %(limit)s") % {
        "label": measure_label(measure),
        "declared": numbers["declared"],
        "monitored": numbers["monitored"],
        "pct": str((tolerance * 100).normalize()),
        "limit": numbers["limit"],
    }
    return Flag(OVER_CLAIM, "high", message, numbers)


def reconcile(
    declared: Declared,
    monitored: MonitoredSummary,
    conflicts: Sequence[Conflict] = (),
    peers: PeerStats | None = None,
    *,
    tolerance: Decimal,
    declared_rows_after_window: int = 0,
) -> list[Flag]:
    """The reconciliation flags of one application (docs/audits.md), in a fixed order.

    * ``no_monitoring`` (high): something is declared and nothing was monitored. Over-claim is
      then not reported separately: every declared figure would exceed zero.
    * ``over_claim`` (high), one per measure: declared cost (row 23), the settlement voucher's
      amount (when entered) or declared GPU time > monitored × (1 + ``tolerance``).
    * ``outside_window`` (medium): monitored usage before or after the production window, or
      declared rows ending after launch.
    * ``double_claim`` (high): the same record or GPU time claimed by another work or enterprise.
    * ``cost_outlier`` (medium): declared cost per work-minute with |modified z| > 3.5 in the
      distribution ``peers`` (the cost per work-minute of the applications submitted by the
      checkpoint, this one included: a robust statistic is barely moved by the point it scores).

    The result never blocks anything by itself: reviewers and inspectors read it.
    """
    flags: list[Flag] = []
    cost = declared.total_compute_cost or Decimal("0.00")
    gpu_minutes = declared.gpu_minutes
    claims = cost > 0 or gpu_minutes > 0 or bool(declared.settlement_amount)
    if claims and monitored.total.count == 0:
        flags.append(
            Flag(
                NO_MONITORING,
                "high",
                _(
                    "申报算力成本 %(cost)s 元、GPU 时长 %(minutes)s 卡·分钟，但日志中没有该企业该作品的监控记录"
                )
                % {"cost": display_money(cost), "minutes": _minutes(gpu_minutes)},
                {"declared_cost": _money(cost), "declared_gpu_minutes": _minutes(gpu_minutes)},
            )
        )
    elif claims:
        checks = [
            ("cost", cost, monitored.total.cost),
            ("settlement", declared.settlement_amount, monitored.total.cost),
            ("gpu_minutes", gpu_minutes, monitored.total.gpu_minutes),
        ]
        for measure, value, against in checks:
            if value is None:
                continue
            flag = _over_claim(measure, value, against, tolerance)
            if flag is not None:
                flags.append(flag)

    window = production_window(declared)
    before, after = monitored.before_window, monitored.after_window
    if before.count or after.count or declared_rows_after_window:
        flags.append(
            Flag(
                OUTSIDE_WINDOW,
                "medium",
                _(
                    "制作期（%(start)s 至 %(end)s）之外有监控用量：之前 %(before)d 条、之后 %(after)d 条；"
                    "上线后结束的申报明细 %(rows)d 行"
                )
                % {
                    "start": chinese_datetime(window.start) if window.start else _("未知"),
                    "end": chinese_datetime(window.end) if window.end else _("未知"),
                    "before": before.count,
                    "after": after.count,
                    "rows": declared_rows_after_window,
                },
                {
                    "window": window.as_dict(),
                    "monitored_before": before.as_dict(),
                    "monitored_after": after.as_dict(),
                    "declared_rows_after": declared_rows_after_window,
                },
            )
        )

    if conflicts:
        ordered = sorted(set(conflicts), key=Conflict.sort_key)
        by_record = sum(1 for c in ordered if c.kind == "record_id")
        by_gpu = len(ordered) - by_record
        flags.append(
            Flag(
                DOUBLE_CLAIM,
                "high",
                _(
                    "同一记录或同一 GPU 时段被其他作品或企业申报：记录编号重复 %(records)d 处，GPU 时段重叠 %(gpu)d 处"
                )
                % {"records": by_record, "gpu": by_gpu},
                {
                    "record_id": by_record,
                    "gpu_time": by_gpu,
                    "cross_enterprise": any(c.cross_enterprise for c in ordered),
                    "conflicts": [c.as_dict() for c in ordered[:MAX_LISTED]],
                },
            )
        )

    per_minute = declared.cost_per_work_minute
    if per_minute is not None and peers is not None:
        z = peers.z(per_minute)
        if abs(z) > Z_THRESHOLD:
            z_text = str(z.quantize(Decimal("0.01")))
            flags.append(
                Flag(
                    COST_OUTLIER,
                    "medium",
                    _(
                        "每分钟算力成本 %(value)s 元，同类申请中位数 %(median)s 元，稳健 z 值 %(z)s（阈值 ±%(threshold)s）"
                    )
                    % {
                        "value": display_money(per_minute),
                        "median": display_money(peers.median),
                        "z": z_text,
                        "threshold": str(Z_THRESHOLD),
                    },
                    {
                        "cost_per_work_minute": _money(per_minute),
                        "median": _money(peers.median),
                        "scale": str(peers.scale.quantize(Decimal("0.0001"))),
                        "method": peers.method,
                        "z": z_text,
                        "threshold": str(Z_THRESHOLD),
                        "peers": peers.count,
                    },
                )
            )
    return flags


def max_severity(flags: Iterable[Flag | dict[str, Any]]) -> str:
    """The most severe severity among ``flags`` ("" when there are none)."""
    found = {f.severity if isinstance(f, Flag) else f["severity"] for f in flags}
    return next((s for s in SEVERITY_ORDER if s in found), "")
