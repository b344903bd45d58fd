"""Spend by kind, vendor and unit (docs/reports.md, docs/usage-formats.md): the declared usage lines of the
year's applications, with the cash paid for them."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db.models import DecimalField, ExpressionWrapper, F, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from applications.models import ConsumptionRow, UsageLineRow
from applications.usage_lines import quantity_text
from core.lib.money import round_half_up
from core.lib.usage_vocabulary import GPU_TIME, KINDS, PACK_PURCHASE, UNITS
from reports.common import applications_of_year

ZERO = Decimal("0")


def usage_spend(year: int) -> list[dict[str, Any]]:
    """Rows of kind, vendor and unit with the quantity and the cash paid (money as two-decimal strings).

    Cash is what was paid, else what was payable; pack purchases count when bought here (the spend
    of the year), not through the units drawn."""
    app_ids = applications_of_year(year).values("pk")
    money = DecimalField(max_digits=24, decimal_places=6)
    groups: dict[tuple[str, str, str], dict[str, Decimal]] = defaultdict(
        lambda: {"quantity": ZERO, "cash": ZERO}
    )
    lines = (
        UsageLineRow.objects.filter(application_id__in=app_ids, material__deleted=False, status="succeeded")
        .values("kind", "vendor", "unit")
        .annotate(quantity=Sum("quantity"), cash=Sum(Coalesce("paid", "payable", output_field=money)))
        .order_by()
    )
    for row in lines:
        group = groups[(row["kind"], row["vendor"] or _("未注明"), row["unit"])]
        group["quantity"] += row["quantity"] or ZERO
        group["cash"] += row["cash"] or ZERO
    gpu = (
        ConsumptionRow.objects.filter(application_id__in=app_ids, material__deleted=False)
        .values("application__provider_name")
        .annotate(
            seconds=Sum(ExpressionWrapper(F("quantity") * F("minutes") * 60, output_field=money)),
            cash=Sum("amount"),
        )
        .order_by()
    )
    for gpu_row in gpu:
        group = groups[(GPU_TIME, gpu_row["application__provider_name"] or _("未注明"), "gpu_second")]
        group["quantity"] += gpu_row["seconds"] or ZERO
        group["cash"] += gpu_row["cash"] or ZERO
    out = []
    for (kind, vendor, unit), values in sorted(groups.items(), key=lambda item: -item[1]["cash"]):
        quantity = values["quantity"]
        unit_label = str(UNITS.get(unit, unit))
        if unit == "gpu_second":  # shown in card-hours, as everywhere else
            quantity, unit_label = quantity / 3600, _("卡·小时")
        out.append(
            {
                "kind": str(KINDS.get(kind, kind)),
                "vendor": vendor,
                "unit": unit_label,
                "quantity": str(round_half_up(Decimal(quantity), Decimal("0.01"))),
                "quantity_text": quantity_text(round_half_up(Decimal(quantity), Decimal("0.01"))),
                "cash": str(round_half_up(values["cash"])),
                "pack_purchase": kind == PACK_PURCHASE,
            }
        )
    return out
