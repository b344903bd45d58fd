"""阿里云: the console 费用明细 / 消费明细 CSV (grouped headers "组/字段" and the older flat headers) and
百炼 DashScope video-task results (billed on ``usage.video_duration``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from applications.usage_lines import UsageLine
from applications.vendor_formats.base import (
    FileResult,
    RowError,
    category_of,
    decimal,
    header_key,
    mapping,
    moment,
    money,
    raw_sha256,
    row_sha256,
    text,
    unit_from_vendor,
)
from core.lib.usage_vocabulary import CLOUD_RESOURCE, MODEL_SERVICE, VENDOR_BILL, VENDOR_TASK

VENDOR = "阿里云"
DASHSCOPE_VENDOR = "阿里云百炼"

# Our field -> the headers (grouped, then flat) that give it, compared by header_key.
COLUMNS: dict[str, tuple[str, ...]] = {
    "bill_period": ("账单信息/账单月份", "账单月份", "账期"),
    "day": ("账单信息/账单日期", "账单信息/消费时间", "消费时间", "账单日期"),
    "product": ("产品信息/产品名称", "产品", "产品名称"),
    "product_code": ("产品信息/产品Code", "产品Code"),
    "item": ("产品信息/计费项名称", "计费项", "计费项名称"),
    "instance": ("资源信息/实例ID", "实例ID", "资源信息/实例id"),
    "quantity": ("用量信息/用量", "用量"),
    "unit": ("用量信息/用量单位", "用量单位"),
    "pack_units": ("用量信息/资源包抵扣量", "资源包抵扣量", "资源包抵扣信息/资源包抵扣量"),
    "list_amount": ("费用信息/目录总价", "官网价", "目录总价"),
    "discount": ("优惠信息/优惠金额", "优惠金额"),
    "coupon": ("优惠券抵扣信息/优惠券抵扣金额", "优惠券抵扣", "优惠券抵扣金额"),
    "cash_coupon": ("代金券抵扣信息/代金券抵扣金额", "代金券抵扣", "代金券抵扣金额"),
    "payable": ("应付信息/应付金额（含税）", "应付金额", "应付金额（含税）"),
    "paid": ("应付信息/现金支付（含税）", "现金支付", "现金支付（含税）"),
    "bill_line_id": ("标识信息/账单明细ID", "账单明细ID"),
    "account": ("身份信息/资源购买账号ID", "资源购买账号ID", "账号ID"),
    "order": ("标识信息/订单号", "订单号"),
}
_INDEX = {header_key(alias): column for column, aliases in COLUMNS.items() for alias in aliases}


def _mapping(header: Sequence[Any]) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, cell in enumerate(header):
        column = _INDEX.get(header_key(cell))
        if column is not None and column not in found:
            found[column] = index
    return found


def is_bill_csv(header: Sequence[Any]) -> bool:
    columns = set(_mapping(header))
    return {"quantity", "unit", "payable"} <= columns and bool(columns & {"item", "product"})


def read_bill_csv(result: FileResult, rows: Sequence[Sequence[Any]]) -> None:
    mapping = _mapping(rows[0])
    for number, cells in enumerate(rows[1:], start=2):
        if all(text(c) == "" for c in cells):
            continue
        result.records += 1
        try:
            result.lines.append(_bill_line(cells, mapping, number))
        except RowError as exc:
            result.reject(number, str(exc))


# Column names in messages, translated when a message is shown.
QUANTITY = gettext_lazy("用量")
COUPON = gettext_lazy("优惠券抵扣")
CASH_COUPON = gettext_lazy("代金券抵扣")
PAYABLE = gettext_lazy("应付金额")
TIME = gettext_lazy("消费时间")
LIST_PRICE = gettext_lazy("目录总价")
DISCOUNT = gettext_lazy("优惠金额")
CASH_PAID = gettext_lazy("现金支付")
PACK_UNITS = gettext_lazy("资源包抵扣量")


def _bill_line(cells: Sequence[Any], mapping: dict[str, int], number: int) -> UsageLine:
    def cell(column: str) -> Any:
        index = mapping.get(column)
        return cells[index] if index is not None and index < len(cells) else None

    product = text(cell("product"))
    item = text(cell("item"))
    category = category_of(product, item, text(cell("product_code")))
    unit_name = text(cell("unit"))
    found = unit_from_vendor(unit_name, category)
    if found is None:
        raise RowError(_("无法识别的用量单位“%(unit)s”") % {"unit": unit_name})
    unit, factor = found
    quantity = decimal(cell("quantity"), QUANTITY)
    assert quantity is not None
    coupon = money(cell("coupon"), COUPON)
    cash_coupon = money(cell("cash_coupon"), CASH_COUPON)
    if coupon is not None or cash_coupon is not None:
        coupon = (coupon or Decimal(0)) + (cash_coupon or Decimal(0))
    payable = money(cell("payable"), PAYABLE)
    if payable is None:
        raise RowError(_("应付金额不能为空"))
    moment_value = moment(cell("day"), TIME)
    pack = decimal(cell("pack_units"), PACK_UNITS, required=False)
    return UsageLine(
        kind=MODEL_SERVICE if category in ("video", "image", "text", "voice") else CLOUD_RESOURCE,
        vendor=VENDOR,
        quantity=quantity * factor,
        unit=unit,
        source=VENDOR_BILL,
        category=category,
        account=text(cell("account")),
        sku=" ".join(part for part in (product, item) if part),
        bill_period=text(cell("bill_period"), 7),
        day=moment_value.date() if moment_value else None,
        list_amount=money(cell("list_amount"), LIST_PRICE),
        discount=money(cell("discount"), DISCOUNT),
        coupon=coupon,
        payable=payable,
        paid=money(cell("paid"), CASH_PAID),
        pack_units=pack * factor if pack else None,
        bill_line_id=text(cell("bill_line_id")),
        settlement_ref=text(cell("order"), 64),
        raw_sha256=row_sha256(cells),
        line_number=number,
    )


# --- DashScope task results ----------------------------------------------------------------------


def is_dashscope(doc: Any) -> bool:
    return (
        isinstance(doc, Mapping)
        and isinstance(doc.get("output"), Mapping)
        and "task_id" in doc["output"]
        and "request_id" in doc
    )


DONE = {"SUCCEEDED"}
FAILED = {"FAILED", "CANCELED", "CANCELLED", "UNKNOWN"}


def dashscope_line(doc: Mapping[str, Any], number: int) -> UsageLine:
    output = doc.get("output")
    if not isinstance(output, Mapping):
        raise RowError(_("缺少 output"))
    task_id = text(output.get("task_id"))
    if not task_id:
        raise RowError(_("output.task_id 不能为空"))
    status = text(output.get("task_status")).upper()
    if status not in DONE | FAILED:
        raise RowError(
            _("任务 %(id)s 尚未完成（状态 %(status)s），不计入") % {"id": task_id, "status": status or "—"}
        )
    failed = status in FAILED
    usage = mapping(doc.get("usage"))
    seconds = Decimal(0) if failed else decimal(usage.get("video_duration"), "usage.video_duration")
    assert seconds is not None
    started = moment(output.get("submit_time"), "output.submit_time")
    return UsageLine(
        kind=MODEL_SERVICE,
        vendor=DASHSCOPE_VENDOR,
        quantity=seconds,
        unit="video_second",
        source=VENDOR_TASK,
        category="video",
        sku=text(doc.get("model") or output.get("model")),
        task_id=task_id,
        period_start=started,
        period_end=moment(output.get("end_time"), "output.end_time"),
        day=started.date() if started else None,
        output_seconds=None if failed else seconds,
        resolution=text(usage.get("video_ratio") or usage.get("size"), 32),
        raw_sha256=raw_sha256(dict(doc)),
        status="failed" if failed else "succeeded",
        line_number=number,
    )
