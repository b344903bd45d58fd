"""The usage lines the platform holds for a work (docs/offers.md): agent-signed GPU records and lines
reported by providers (a reseller's bill lines among them), each with its place in the log."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.utils import timezone

from applications.models import Work
from applications.usage_lines import UsageLine, unit_label
from core.lib.money import display_money
from core.lib.usage_vocabulary import AGENT_SIGNED, GPU_TIME, PROVIDER_REPORTED
from ledger.models import AuditEvent
from monitoring.models import ReportedUsageLine, UsageRecord


@dataclass(frozen=True)
class HeldLine:
    """A usage line the platform holds for a work, with its place in the log."""

    line: UsageLine
    leaf_index: int | None
    provider: str

    @property
    def unit_label(self) -> str:
        return unit_label(self.line.unit)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.line.as_dict(),
            "leaf_index": self.leaf_index,
            "provider": self.provider,
            "unit_label": unit_label(self.line.unit),
            "quantity_text": f"{self.line.quantity.normalize():,f}",
            "paid_text": display_money(self.line.paid) if self.line.paid is not None else "",
        }


def _record_line(record: UsageRecord) -> HeldLine:
    cost = Decimal(record.cost_cny)
    line = UsageLine(
        kind=GPU_TIME,
        vendor=record.provider.name,
        quantity=Decimal(str(record.gpu_seconds)),
        unit="gpu_second",
        source=AGENT_SIGNED,
        category="gpu_instance",
        sku=record.gpu_model,
        task_id=str(record.record_id),
        period_start=record.started_at,
        period_end=record.ended_at,
        day=timezone.localdate(record.started_at),
        payable=cost,
        paid=cost,
        bill_line_id=str(record.record_id),
        raw_sha256=record.entry_sha256,
    )
    return HeldLine(line, record.leaf_index, record.provider.name)


def _reported_leaves(rows: list[ReportedUsageLine]) -> dict[str, int]:
    """The leaf index of the log event that named each reported line's SHA-256."""
    if not rows:
        return {}
    wanted = {row.line_sha256 for row in rows}
    since = min(row.received_at for row in rows) - dt.timedelta(minutes=5)
    found: dict[str, int] = {}
    events = AuditEvent.objects.filter(action="usage.lines", created_at__gte=since).order_by("leaf_index")
    for event in events.only("after", "leaf_index").iterator():
        for digest in (event.after or {}).get("sha256", []):
            if digest in wanted and digest not in found and event.leaf_index is not None:
                found[digest] = event.leaf_index
        if len(found) == len(wanted):
            break
    return found


def _reported_line(row: ReportedUsageLine, leaves: dict[str, int]) -> HeldLine:
    provider = row.provider.name
    line = UsageLine(
        kind=row.kind,
        vendor=row.vendor,
        quantity=row.quantity,
        unit=row.unit,
        source=PROVIDER_REPORTED,
        category=row.category,
        reseller_name=provider if provider != row.vendor else "",
        reseller_uscc="",
        sku=row.sku,
        task_id=row.task_id,
        day=row.day,
        output_seconds=row.output_seconds,
        resolution=row.resolution,
        list_amount=row.list_amount,
        coupon=row.coupon,
        voucher=row.voucher,
        pack_units=row.pack_units,
        payable=row.payable,
        paid=row.paid,
        invoice_no=row.invoice_no,
        bill_line_id=row.line_id,
        raw_sha256=row.line_sha256,
    )
    return HeldLine(line, leaves.get(row.line_sha256), provider)


def held_lines(work: Work) -> list[HeldLine]:
    """Every usage line in the log attributed to the work (its enterprise's USCC and one of its refs)."""
    uscc = work.enterprise.uscc
    refs = work.work_refs()
    records = (
        UsageRecord.objects.filter(enterprise_uscc=uscc, work_ref__in=refs)
        .select_related("provider")
        .order_by("leaf_index")
    )
    reported = list(
        ReportedUsageLine.objects.filter(enterprise_uscc=uscc, work_ref__in=refs)
        .select_related("provider")
        .order_by("received_at", "pk")
    )
    leaves = _reported_leaves(reported)
    lines = [_record_line(r) for r in records] + [_reported_line(r, leaves) for r in reported]
    return [numbered_line(item, number) for number, item in enumerate(lines, start=1)]


def numbered_line(item: HeldLine, number: int) -> HeldLine:
    return HeldLine(replace(item.line, file_name="", line_number=number), item.leaf_index, item.provider)
