"""可灵 (Kling) API: task query results (``final_unit_deduction`` pack units per task) and the resource
packs of ``GET /account/costs``."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from applications.usage_lines import UsageLine
from applications.vendor_formats.base import (
    FileResult,
    RowError,
    decimal,
    json_item_lines,
    mapping,
    moment,
    raw_sha256,
    text,
)
from core.lib.usage_vocabulary import MODEL_SERVICE, PACK_PURCHASE, VENDOR_BILL, VENDOR_TASK

VENDOR = "可灵"
DONE = {"succeed"}
FAILED = {"failed"}


def _data(doc: Any) -> Any:
    return doc.get("data") if isinstance(doc, Mapping) and "code" in doc else None


def is_task(doc: Any) -> bool:
    data = _data(doc)
    first = data[0] if isinstance(data, list) and data else data
    return isinstance(first, Mapping) and "task_id" in first and "task_status" in first


def is_costs(doc: Any) -> bool:
    data = _data(doc)
    return isinstance(data, Mapping) and isinstance(data.get("resource_pack_subscribe_infos"), list)


def task_line(task: Mapping[str, Any], number: int) -> UsageLine:
    task_id = text(task.get("task_id"))
    if not task_id:
        raise RowError(_("task_id 不能为空"))
    status = text(task.get("task_status")).lower()
    if status not in DONE | FAILED:
        raise RowError(
            _("任务 %(id)s 尚未完成（状态 %(status)s），不计入") % {"id": task_id, "status": status or "—"}
        )
    failed = status in FAILED
    units = Decimal(0) if failed else decimal(task.get("final_unit_deduction"), "final_unit_deduction")
    assert units is not None
    seconds = Decimal(0)
    found = mapping(task.get("task_result")).get("videos")
    videos: list[Any] = found if isinstance(found, list) else []
    for video in videos:
        if isinstance(video, Mapping):
            seconds += decimal(video.get("duration"), "task_result.videos.duration", required=False) or 0
    started = moment(task.get("created_at"), "created_at")
    return UsageLine(
        kind=MODEL_SERVICE,
        vendor=VENDOR,
        quantity=units,
        unit="pack_unit",
        source=VENDOR_TASK,
        category="video",
        sku=text(task.get("model_name") or task.get("model")),
        task_id=task_id,
        period_start=started,
        period_end=moment(task.get("updated_at"), "updated_at"),
        day=started.date() if started else None,
        output_seconds=None if failed or not videos else seconds,
        pack_units=None if failed else units,
        raw_sha256=raw_sha256(dict(task)),
        status="failed" if failed else "succeeded",
        line_number=number,
    )


def read_tasks(result: FileResult, source: str, doc: Mapping[str, Any]) -> None:
    data = doc["data"]
    items = data if isinstance(data, list) else [data]
    lines = json_item_lines(source, "data", len(items)) if isinstance(data, list) else [1]
    for item, number in zip(items, lines, strict=True):
        result.records += 1
        try:
            if not isinstance(item, Mapping):
                raise RowError(_("不是一条任务记录"))
            result.lines.append(task_line(item, number))
        except RowError as exc:
            result.reject(number, str(exc))


def pack_line(pack: Mapping[str, Any], number: int) -> UsageLine:
    pack_id = text(pack.get("resource_pack_id"))
    if not pack_id:
        raise RowError(_("resource_pack_id 不能为空"))
    total = decimal(pack.get("total_quantity"), "total_quantity")
    assert total is not None
    bought = moment(pack.get("purchase_time"), "purchase_time")
    return UsageLine(
        kind=PACK_PURCHASE,
        vendor=VENDOR,
        quantity=total,
        unit="pack_unit",
        source=VENDOR_BILL,
        category="video",
        sku=text(pack.get("resource_pack_name")),
        pack_id=pack_id,
        period_start=moment(pack.get("effective_time"), "effective_time"),
        period_end=moment(pack.get("invalid_time"), "invalid_time"),
        day=bought.date() if bought else None,
        raw_sha256=raw_sha256(dict(pack)),
        line_number=number,
    )


def read_costs(result: FileResult, source: str, doc: Mapping[str, Any]) -> None:
    packs = doc["data"]["resource_pack_subscribe_infos"]
    lines = json_item_lines(source, "resource_pack_subscribe_infos", len(packs))
    for pack, number in zip(packs, lines, strict=True):
        result.records += 1
        try:
            if not isinstance(pack, Mapping):
                raise RowError(_("不是一条资源包记录"))
            result.lines.append(pack_line(pack, number))
        except RowError as exc:
            result.reject(number, str(exc))
