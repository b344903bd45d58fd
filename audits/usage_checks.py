"""Reconciliation flags of the usage lines (docs/usage-formats.md): a task, invoice or bill line claimed by
two applications; pack units drawn beyond the packs bought; a voucher deduction (possibly a second
subsidy); generated video far shorter than the work."""

from __future__ import annotations

import contextvars
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, NamedTuple

from django.db.models import Q
from django.utils.translation import gettext as _

from applications.models import Application, ConsumptionRow, UsageLineRow
from applications.usage_lines import UsageLine, generated_seconds, pack_sizes, subsidy_base, unit_label
from applications.usage_store import line_of_row
from audits.rules import (
    LOW_GENERATION,
    MAX_LISTED,
    NO_MONITORING,
    OVER_CLAIM,
    OVER_REPORTED,
    PACK_OVERDRAWN,
    SHARED_USAGE,
    VOUCHER_USED,
    Flag,
)
from core.lib.money import format_money
from monitoring.models import ReportedUsageLine

DEFAULT_MIN_RATIO = Decimal("0.5")
CHUNK = 900  # SQLite allows 999 parameters per statement


class _Read(NamedTuple):
    """The usage lines and whether a consumption detail is declared, of many applications at once."""

    rows: dict[int, list[UsageLineRow]]
    consumption: set[int]


_batch: contextvars.ContextVar[_Read | None] = contextvars.ContextVar("usage_checks_batch", default=None)


@contextmanager
def batch(applications: Sequence[Application]) -> Iterator[None]:
    """Read the usage lines of every application reconciled inside at once (two queries per
    thousand applications instead of two per application)."""
    ids = sorted({a.pk for a in applications})
    read = _Read(defaultdict(list), set())
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        for row in UsageLineRow.objects.filter(application_id__in=chunk, material__deleted=False).select_related(
            "material"
        ):
            read.rows[row.application_id].append(row)
        read.consumption.update(
            ConsumptionRow.objects.filter(application_id__in=chunk).values_list("application_id", flat=True).distinct()
        )
    token = _batch.set(read)
    try:
        yield
    finally:
        _batch.reset(token)


def _rows(application: Application) -> list[UsageLineRow]:
    read = _batch.get()
    if read is not None:
        return read.rows.get(application.pk, [])
    return list(
        UsageLineRow.objects.filter(application=application, material__deleted=False).select_related(
            "material"
        )
    )


def _declares_consumption(application: Application) -> bool:
    read = _batch.get()
    if read is not None:
        return application.pk in read.consumption
    return application.consumption_rows.exists()


def shared_flags(application: Application, rows: list[UsageLineRow]) -> list[Flag]:
    """The same task id, invoice number or vendor bill line in another application."""
    keys: dict[str, set[str]] = {"task_id": set(), "invoice_no": set(), "bill_line_id": set()}
    for row in rows:
        if row.status != "succeeded" or row.kind == "pack_purchase":
            continue
        for name in keys:
            value = getattr(row, name)
            if value:
                keys[name].add(value)
    if not any(keys.values()):
        return []
    match = Q(pk__in=[])
    for name, values in keys.items():
        if values:
            match |= Q(**{f"{name}__in": sorted(values)})
    others = (
        UsageLineRow.objects.filter(match, material__deleted=False, status="succeeded")
        .exclude(application=application)
        .values_list("task_id", "invoice_no", "bill_line_id", "application_id", "application__reference")
    )
    found: dict[tuple[str, str], set[str]] = defaultdict(set)
    for task_id, invoice_no, bill_line_id, other_id, reference in others:
        label = reference or f"#{other_id}"
        for name, value in (("task_id", task_id), ("invoice_no", invoice_no), ("bill_line_id", bill_line_id)):
            if value and value in keys[name]:
                found[(name, value)].add(label)
    if not found:
        return []
    names = {"task_id": _("任务编号"), "invoice_no": _("发票号码"), "bill_line_id": _("账单明细")}
    listed = sorted(found.items())[:MAX_LISTED]
    message = _("以下任务、发票或账单行也出现在其他申请中：%(list)s") % {
        "list": "；".join(
            f"{names[name]} {value}（{'、'.join(sorted(apps))}）" for (name, value), apps in listed
        )
    }
    numbers: dict[str, Any] = {
        "count": len(found),
        "task_ids": sorted(v for (n, v) in found if n == "task_id")[:MAX_LISTED],
        "invoices": sorted(v for (n, v) in found if n == "invoice_no")[:MAX_LISTED],
        "bill_lines": sorted(v for (n, v) in found if n == "bill_line_id")[:MAX_LISTED],
    }
    return [Flag(SHARED_USAGE, "high", message, numbers)]


def line_flags(lines: list[UsageLine], work_minutes: int | None, min_ratio: Decimal) -> list[Flag]:
    """The flags one application's lines raise by themselves; pure."""
    flags: list[Flag] = []
    base = subsidy_base(lines)
    sizes = pack_sizes(lines)
    for vendor, drawn in sorted(base.pack_units_drawn.items()):
        size = sizes.get(vendor, Decimal(0))
        if drawn > size:
            flags.append(
                Flag(
                    PACK_OVERDRAWN,
                    "high",
                    _("%(vendor)s 资源包抵扣 %(drawn)s 单位，超过所购资源包合计 %(size)s 单位")
                    % {"vendor": vendor, "drawn": _plain(drawn), "size": _plain(size)},
                    {"vendor": vendor, "drawn": _plain(drawn), "size": _plain(size)},
                )
            )
    if base.vouchers > 0:
        flags.append(
            Flag(
                VOUCHER_USED,
                "medium",
                _(
                    "明细中有算力券 / 模型券抵扣 %(amount)s 元，已从总算力成本中扣除；请核实是否已获其他政策补助"
                )
                % {"amount": format_money(base.vouchers)},
                {"voucher": format_money(base.vouchers)},
            )
        )
    has_video = any(line.category == "video" and line.kind == "model_service" for line in lines)
    if has_video and work_minutes:
        generated = generated_seconds(lines) / 60
        if generated < Decimal(work_minutes) * min_ratio:
            flags.append(
                Flag(
                    LOW_GENERATION,
                    "medium",
                    _("明细中生成视频共 %(generated)s 分钟，远低于作品时长 %(work)s 分钟")
                    % {"generated": _plain(generated.quantize(Decimal("0.01"))), "work": work_minutes},
                    {
                        "generated_minutes": _plain(generated.quantize(Decimal("0.01"))),
                        "work_minutes": work_minutes,
                    },
                )
            )
    return flags


def reported_flags(application: Application, lines: list[UsageLine], tolerance: Decimal) -> list[Flag]:
    """Declared lines against the lines providers reported for the work, per vendor, SKU, unit and day:
    a group the provider reported less of than declared (beyond the tolerance) is flagged. Groups no
    provider reported on are left to the evidence levels."""
    from audits.queries import application_keys, key_filter

    reported = ReportedUsageLine.objects.filter(key_filter(application_keys(application)))
    vendors = set(reported.values_list("vendor", flat=True))
    if not vendors:
        return []

    def key(vendor: str, sku: str, unit: str, day: Any) -> tuple[str, str, str, str]:
        return (vendor, sku.strip().lower(), unit, day.isoformat() if day else "")

    theirs: dict[tuple[str, str, str, str], Decimal] = defaultdict(Decimal)
    for vendor, sku, unit, day, quantity in reported.values_list("vendor", "sku", "unit", "day", "quantity"):
        theirs[key(vendor, sku, unit, day)] += quantity
    ours: dict[tuple[str, str, str, str], Decimal] = defaultdict(Decimal)
    for line in lines:
        if line.vendor in vendors and line.source == "applicant_declared" and not line.failed:
            ours[key(line.vendor, line.sku, line.unit, line.day)] += line.quantity
    over = [
        (group, quantity, theirs.get(group, Decimal(0)))
        for group, quantity in sorted(ours.items())
        if quantity > theirs.get(group, Decimal(0)) * (1 + tolerance)
    ]
    if not over:
        return []
    listed = over[:MAX_LISTED]
    message = _("以下申报用量超出提供方报送：%(list)s") % {
        "list": "；".join(
            _("%(vendor)s %(sku)s %(day)s 申报 %(ours)s、报送 %(theirs)s %(unit)s")
            % {
                "vendor": vendor,
                "sku": sku or "—",
                "day": day or "—",
                "ours": _plain(ours_q),
                "theirs": _plain(theirs_q),
                "unit": unit_label(unit),
            }
            for (vendor, sku, unit, day), ours_q, theirs_q in listed
        )
    }
    return [Flag(OVER_REPORTED, "medium", message, {"groups": len(over)})]


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


GPU_MONITORING_FLAGS = frozenset({NO_MONITORING, OVER_CLAIM})


def with_usage_flags(application: Application, flags: list[Flag], params: Any = None) -> list[Flag]:
    """The monitoring flags, then the usage-line flags. An application whose lines buy no GPU time
    (model services, packs, subscriptions) is not compared with GPU monitoring: nothing it declares
    could be monitored there, so "no monitoring" and "over-claim" would be true of every honest one."""
    rows = _rows(application)
    gpu = any(row.kind == "gpu_time" or row.unit in ("gpu_second", "instance_hour") for row in rows)
    declared_gpu = gpu or _declares_consumption(application)
    if rows and not declared_gpu:
        flags = [flag for flag in flags if flag.code not in GPU_MONITORING_FLAGS]
    return [*flags, *flags_for(application, params, rows=rows)]


def flags_for(
    application: Application, params: Any = None, *, rows: list[UsageLineRow] | None = None
) -> list[Flag]:
    """Every usage-line flag of one application (called by ``audits.reconciliation``)."""
    rows = _rows(application) if rows is None else rows
    if not rows:
        return []
    extra = getattr(params, "extra", {}) or {}
    ratio = Decimal(str(extra.get("usage.generated_minutes_min_ratio", DEFAULT_MIN_RATIO)))
    lines = [line_of_row(row) for row in rows]
    tolerance = Decimal(str(extra.get("audit.tolerance", "0.05")))
    return (
        shared_flags(application, rows)
        + line_flags(lines, application.work_minutes, ratio)
        + reported_flags(application, lines, tolerance)
    )
