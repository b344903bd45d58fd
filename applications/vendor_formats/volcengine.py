"""火山引擎: the bill detail (``ListBillDetail`` API JSON and the console CSV with the same column
names) and 火山方舟 video-generation tasks (``GET /api/v3/contents/generations/tasks``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from applications.usage_lines import UsageLine
from applications.vendor_formats.base import (
    FileResult,
    RowError,
    category_of,
    day_of,
    decimal,
    json_item_lines,
    mapping,
    moment,
    money,
    raw_sha256,
    text,
    unit_from_vendor,
)
from core.lib.usage_vocabulary import CLOUD_RESOURCE, MODEL_SERVICE, VENDOR_BILL, VENDOR_TASK

VENDOR = "火山引擎"
ARK_VENDOR = "火山方舟"
BILL_FIELDS = {
    "BillDetailId",
    "PayableAmount",
    "OriginalBillAmount",
    "Product",
    "ExpenseDate",
    "Count",
    "Unit",
}


def is_bill_json(doc: Any) -> bool:
    result = doc.get("Result") if isinstance(doc, Mapping) else None
    items = result.get("List") if isinstance(result, Mapping) else None
    return isinstance(items, list) and (
        not items or isinstance(items[0], Mapping) and bool(BILL_FIELDS & set(items[0]))
    )


def is_bill_csv(header: Sequence[Any]) -> bool:
    return len(BILL_FIELDS & {str(h).strip() for h in header}) >= 3


def bill_line(row: Mapping[str, Any], number: int) -> UsageLine:
    product = text(row.get("ProductZh") or row.get("Product"))
    sku = (
        " / ".join(
            part
            for part in (text(row.get("ConfigName")), text(row.get("Element") or row.get("ElementCode")))
            if part
        )
        or product
    )
    category = category_of(product, sku, text(row.get("Product")))
    unit_name = text(row.get("Unit"))
    found = unit_from_vendor(unit_name, category)
    if found is None:
        raise RowError(_("无法识别的用量单位“%(unit)s”") % {"unit": unit_name})
    unit, factor = found
    count = decimal(row.get("Count"), "Count")
    assert count is not None
    kind = MODEL_SERVICE if category in ("video", "image", "text", "voice") else CLOUD_RESOURCE
    period = text(row.get("BillPeriod"), 7)
    day = day_of(row.get("ExpenseDate"), "ExpenseDate") if row.get("ExpenseDate") else None
    deducted = decimal(row.get("DeductionCount"), "DeductionCount", required=False)
    seller = text(row.get("SellerCustomerName"))
    return UsageLine(
        kind=kind,
        vendor=VENDOR,
        quantity=count * factor,
        unit=unit,
        source=VENDOR_BILL,
        category=category,
        reseller_name=seller if seller and seller != text(row.get("PayerCustomerName")) else "",
        account=text(row.get("PayerID") or row.get("OwnerID")),
        sku=f"{product} {sku}".strip() if sku != product else product,
        bill_period=period,
        day=day,
        period_start=moment(row.get("ExpenseBeginTime"), "ExpenseBeginTime"),
        period_end=moment(row.get("ExpenseEndTime"), "ExpenseEndTime"),
        unit_price=decimal(row.get("Price"), "Price", required=False),
        list_amount=money(row.get("OriginalBillAmount"), "OriginalBillAmount"),
        discount=money(row.get("DiscountBillAmount"), "DiscountBillAmount"),
        coupon=money(row.get("CouponAmount"), "CouponAmount"),
        payable=money(row.get("PayableAmount"), "PayableAmount"),
        paid=money(row.get("PaidAmount"), "PaidAmount"),
        pack_units=deducted * factor if deducted else None,
        bill_line_id=text(row.get("BillDetailId") or row.get("BillID")),
        raw_sha256=raw_sha256(dict(row)),
        line_number=number,
    )


def read_bill_json(result: FileResult, source: str, doc: Mapping[str, Any]) -> None:
    items = doc["Result"]["List"]
    lines = json_item_lines(source, "List", len(items))
    for item, number in zip(items, lines, strict=True):
        _read(result, number, lambda item=item, number=number: bill_line(item, number), item)


def read_bill_csv(result: FileResult, rows: Sequence[Sequence[Any]]) -> None:
    header = [str(h).strip() for h in rows[0]]
    for number, cells in enumerate(rows[1:], start=2):
        if all(text(c) == "" for c in cells):
            continue
        record = dict(zip(header, cells, strict=False))
        _read(result, number, lambda record=record, number=number: bill_line(record, number), record)


def _read(result: FileResult, number: int, make: Any, item: Any) -> None:
    result.records += 1
    if not isinstance(item, Mapping):
        result.reject(number, _("不是一条账单记录"))
        return
    try:
        result.lines.append(make())
    except RowError as exc:
        result.reject(number, str(exc))


# --- 方舟 generation tasks -----------------------------------------------------------------------

ARK_DONE = {"succeeded"}
ARK_FAILED = {"failed", "expired", "cancelled"}


def is_ark(doc: Any) -> bool:
    if isinstance(doc, Mapping) and isinstance(doc.get("items"), list):
        items = doc["items"]
        return (
            bool(items) and isinstance(items[0], Mapping) and str(items[0].get("id", "")).startswith("cgt-")
        )
    return isinstance(doc, Mapping) and str(doc.get("id", "")).startswith("cgt-")


def ark_line(task: Mapping[str, Any], number: int) -> UsageLine:
    task_id = text(task.get("id"))
    if not task_id.startswith("cgt-"):
        raise RowError(_("任务编号“%(id)s”不是方舟视频生成任务编号（cgt-…）") % {"id": task_id})
    status = text(task.get("status")).lower()
    if status not in ARK_DONE | ARK_FAILED:
        raise RowError(
            _("任务 %(id)s 尚未完成（状态 %(status)s），不计入") % {"id": task_id, "status": status or "—"}
        )
    usage = mapping(task.get("usage"))
    failed = status in ARK_FAILED
    tokens = Decimal(0) if failed else decimal(usage.get("completion_tokens"), "usage.completion_tokens")
    assert tokens is not None
    duration = decimal(task.get("duration"), "duration", required=False)
    started = moment(task.get("created_at"), "created_at")
    return UsageLine(
        kind=MODEL_SERVICE,
        vendor=ARK_VENDOR,
        quantity=tokens,
        unit="token",
        source=VENDOR_TASK,
        category="video",
        sku=text(task.get("model")),
        task_id=task_id,
        period_start=started,
        period_end=moment(task.get("updated_at"), "updated_at"),
        day=started.date() if started else None,
        output_seconds=None if failed else duration,
        resolution=text(task.get("resolution"), 32),
        raw_sha256=raw_sha256(dict(task)),
        status="failed" if failed else "succeeded",
        line_number=number,
    )


def read_ark(result: FileResult, source: str, doc: Mapping[str, Any]) -> None:
    items = doc["items"] if isinstance(doc.get("items"), list) else [doc]
    lines = json_item_lines(source, "items", len(items)) if "items" in doc else [1]
    for item, number in zip(items, lines, strict=True):
        _read(result, number, lambda item=item, number=number: ark_line(item, number), item)
