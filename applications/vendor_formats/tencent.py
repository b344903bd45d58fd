"""腾讯云: the bill detail (``DescribeBillDetail``), one usage line per component of a detail."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from applications.usage_lines import UsageLine
from applications.vendor_formats.base import (
    FileResult,
    RowError,
    category_of,
    decimal,
    json_item_lines,
    moment,
    money,
    raw_sha256,
    text,
    unit_from_vendor,
)
from core.lib.usage_vocabulary import CLOUD_RESOURCE, MODEL_SERVICE, VENDOR_BILL

VENDOR = "腾讯云"


def is_bill_json(doc: Any) -> bool:
    response = doc.get("Response") if isinstance(doc, Mapping) else None
    return isinstance(response, Mapping) and isinstance(response.get("DetailSet"), list)


def _component_line(detail: Mapping[str, Any], component: Mapping[str, Any], number: int) -> UsageLine:
    business = text(detail.get("BusinessCodeName"))
    product = text(detail.get("ProductCodeName"))
    item = text(component.get("ItemCodeName") or component.get("ComponentCodeName"))
    category = category_of(business, product, item)
    unit_name = text(component.get("UsedAmountUnit"))
    found = unit_from_vendor(unit_name, category)
    if found is None:
        raise RowError(_("无法识别的用量单位“%(unit)s”") % {"unit": unit_name})
    unit, factor = found
    used = decimal(component.get("UsedAmount"), "UsedAmount")
    assert used is not None
    cost = money(component.get("Cost"), "Cost")
    real = money(component.get("RealCost"), "RealCost")
    voucher = money(component.get("VoucherPayAmount"), "VoucherPayAmount")
    incentive = money(component.get("IncentivePayAmount"), "IncentivePayAmount")
    coupon = (
        None if voucher is None and incentive is None else (voucher or Decimal(0)) + (incentive or Decimal(0))
    )
    started = moment(detail.get("FeeBeginTime"), "FeeBeginTime")
    return UsageLine(
        kind=MODEL_SERVICE if category in ("video", "image", "text", "voice") else CLOUD_RESOURCE,
        vendor=VENDOR,
        quantity=used * factor,
        unit=unit,
        source=VENDOR_BILL,
        category=category,
        account=text(detail.get("PayerUin") or detail.get("OwnerUin")),
        sku=" ".join(p for p in (business, product, item) if p),
        period_start=started,
        period_end=moment(detail.get("FeeEndTime"), "FeeEndTime"),
        day=started.date() if started else None,
        unit_price=decimal(component.get("SinglePrice"), "SinglePrice", required=False),
        list_amount=cost,
        discount=(cost - real) if cost is not None and real is not None else None,
        coupon=coupon,
        payable=real,
        paid=money(component.get("CashPayAmount"), "CashPayAmount"),
        bill_line_id=f"{text(detail.get('BillId'))}/{item}",
        settlement_ref=text(detail.get("OrderId"), 64),
        raw_sha256=raw_sha256(
            {"detail": {k: v for k, v in detail.items() if k != "ComponentSet"}, "component": dict(component)}
        ),
        line_number=number,
    )


def read_bill_json(result: FileResult, source: str, doc: Mapping[str, Any]) -> None:
    details = doc["Response"]["DetailSet"]
    lines = json_item_lines(source, "DetailSet", len(details))
    for detail, number in zip(details, lines, strict=True):
        result.records += 1
        components = detail.get("ComponentSet") if isinstance(detail, Mapping) else None
        if not isinstance(components, list) or not components:
            result.reject(number, _("账单明细缺少 ComponentSet"))
            continue
        for component in components:
            try:
                if not isinstance(component, Mapping):
                    raise RowError(_("ComponentSet 中有一项不是组件"))
                result.lines.append(_component_line(detail, component, number))
            except RowError as exc:
                result.reject(number, str(exc))
