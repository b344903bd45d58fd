"""The usage lines an application declares, as stored (``UsageLineRow``, and the earlier GPU-only
``ConsumptionRow``), and the subsidy base computed from them (docs/usage-formats.md)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from applications.models import Application, ConsumptionRow, Material, MaterialKind, UsageFile, UsageLineRow
from applications.usage_lines import (
    APPLICANT_DECLARED,
    GPU_TIME,
    Base,
    BaseRules,
    UsageLine,
    subsidy_base,
)
from applications.vendor_formats.base import FileResult

LINE_FIELDS = (
    "kind",
    "vendor",
    "reseller_name",
    "reseller_uscc",
    "account",
    "category",
    "sku",
    "task_id",
    "period_start",
    "period_end",
    "bill_period",
    "day",
    "quantity",
    "unit",
    "output_seconds",
    "resolution",
    "unit_price",
    "list_amount",
    "discount",
    "coupon",
    "voucher",
    "pack_units",
    "pack_id",
    "payable",
    "paid",
    "invoice_no",
    "settlement_ref",
    "bill_line_id",
    "raw_sha256",
    "source",
    "status",
)


def _trimmed(value: Any, field: str) -> Any:
    if isinstance(value, str):
        limit = UsageLineRow._meta.get_field(field).max_length
        return value[:limit] if limit else value
    return value


def save_lines(application: Application, material: Material, result: FileResult) -> int:
    """Store a read file's lines and how it was read; inside the caller's transaction."""
    UsageFile.objects.create(
        material=material,
        format=result.format,
        records=result.records,
        rejections=[r.as_dict() for r in result.rejections],
    )
    UsageLineRow.objects.bulk_create(
        [
            UsageLineRow(
                application=application,
                material=material,
                line_number=line.line_number,
                **{name: _trimmed(getattr(line, name), name) for name in LINE_FIELDS},
            )
            for line in result.lines
        ],
        batch_size=1000,
    )
    return len(result.lines)


def line_of_row(row: UsageLineRow) -> UsageLine:
    values = {name: getattr(row, name) for name in LINE_FIELDS}
    return UsageLine(**values, file_name=row.material.original_name, line_number=row.line_number)


def line_of_gpu_row(row: ConsumptionRow, vendor: str = "") -> UsageLine:
    """A row of the earlier GPU-only detail: card-seconds, paid = its amount."""
    return UsageLine(
        kind=GPU_TIME,
        vendor=vendor,
        quantity=Decimal(row.quantity * row.minutes * 60),
        unit="gpu_second",
        source=APPLICANT_DECLARED,
        category="gpu_instance",
        sku=row.resource,
        task_id=row.record_id,
        period_start=row.started_at,
        period_end=row.ended_at,
        day=row.started_at.date(),
        unit_price=row.unit_price,
        payable=row.amount,
        paid=row.amount,
        file_name=row.material.original_name,
        line_number=row.row_number,
    )


def detail_materials(application: Application) -> list[Material]:
    """The consumption-detail files in force that were read into lines."""
    current = application.current_materials().filter(kind=MaterialKind.CONSUMPTION_DETAIL)
    return [m for m in current if m.is_table or m.mime == "application/json"]


def declared_lines(application: Application) -> list[UsageLine]:
    """Every usage line of the consumption details in force."""
    ids = [m.pk for m in detail_materials(application)]
    vendor = application.provider_name or ""
    lines = [
        line_of_row(row)
        for row in UsageLineRow.objects.filter(material_id__in=ids).select_related("material")
    ]
    lines += [
        line_of_gpu_row(row, vendor)
        for row in ConsumptionRow.objects.filter(material_id__in=ids).select_related("material")
    ]
    return lines


def usage_base(application: Application, params: Any = None) -> Base:
    """Row 23 as computed from the declared lines under the base rules in force."""
    rules = BaseRules.from_params(params) if params is not None else BaseRules()
    return subsidy_base(declared_lines(application), rules)


def base_on(application: Application, day: dt.date) -> Base:
    """Row 23 as computed under the base rules in force on ``day`` (the defaults where no policy is)."""
    from policy.loader import PolicyNotInForceError, params_at

    try:
        params = params_at(day)
    except PolicyNotInForceError:
        params = None
    return usage_base(application, params)
