"""The usage record of SPEC §6 and its field checks, with a Chinese reason and a code per failure.

This is deliberately explicit code rather than a pydantic model: ingestion validates
thousands of records a second, and each failure must name the field in Chinese. The
checks here need no database; the ones that do (node, overlap, idempotency) are in
``monitoring.actions``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from django.utils.translation import gettext as _
from stdnum.cn import uscc as uscc_check

from monitoring.models import Scenario

RECORD_FIELDS = (
    "record_id", "node_id", "enterprise_uscc", "work_ref", "job_id", "scenario", "gpu_model", "gpu_uuid",
    "gpu_count", "started_at", "ended_at", "gpu_seconds", "avg_util_pct", "max_mem_mib", "energy_wh", "cost_cny",
)  # fmt: skip
SIGNED_FIELDS = (*RECORD_FIELDS, "signature")
SCENARIOS = frozenset(Scenario.values)
MAX_BATCH_RECORDS = 5000

# Field names as reasons show them.
FIELD_LABELS = {
    "record_id": "记录编号(record_id)",
    "node_id": "节点标识(node_id)",
    "enterprise_uscc": "统一社会信用代码(enterprise_uscc)",
    "work_ref": "作品备案号(work_ref)",
    "job_id": "作业编号(job_id)",
    "scenario": "应用场景(scenario)",
    "gpu_model": "GPU型号(gpu_model)",
    "gpu_uuid": "GPU UUID(gpu_uuid)",
    "gpu_count": "GPU数量(gpu_count)",
    "started_at": "开始时间(started_at)",
    "ended_at": "结束时间(ended_at)",
    "gpu_seconds": "GPU时长(gpu_seconds)",
    "avg_util_pct": "平均利用率(avg_util_pct)",
    "max_mem_mib": "最大显存(max_mem_mib)",
    "energy_wh": "能耗(energy_wh)",
    "cost_cny": "费用(cost_cny)",
    "signature": "签名(signature)",
}


class RecordError(Exception):
    """Why a record is rejected: a stable ``code`` for programs and a Chinese ``reason`` for people."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class UsageFields:
    """A record whose fields passed the schema checks, parsed into Python values."""

    record_id: uuid.UUID
    node_id: str
    enterprise_uscc: str
    work_ref: str
    job_id: str
    scenario: str
    gpu_model: str
    gpu_uuid: str
    gpu_count: int
    started_at: datetime
    ended_at: datetime
    gpu_seconds: float
    avg_util_pct: float
    max_mem_mib: int
    energy_wh: float
    cost_cny: Decimal
    signature: str


def _bad(field: str, problem: str) -> RecordError:
    return RecordError(
        "schema", _("%(field)s%(problem)s") % {"field": FIELD_LABELS.get(field, field), "problem": problem}
    )


def _text(record: dict[str, Any], field: str, max_length: int, *, allow_empty: bool = False) -> str:
    value = record.get(field)
    if not isinstance(value, str):
        raise _bad(field, _("须为文本"))
    value = value.strip()
    if not value and not allow_empty:
        raise _bad(field, _("不能为空"))
    if len(value) > max_length:
        raise _bad(field, _("不能超过%(n)d个字符") % {"n": max_length})
    return value


def _number(record: dict[str, Any], field: str, *, maximum: float | None = None) -> float:
    value = record.get(field)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(field, _("须为数字"))
    number = float(value)
    if number != number or number < 0 or number == float("inf"):
        raise _bad(field, _("不能为负数"))
    if maximum is not None and number > maximum:
        raise _bad(field, _("不能大于%(max)s") % {"max": maximum})
    return number


def _integer(record: dict[str, Any], field: str, *, minimum: int) -> int:
    value = record.get(field)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(field, _("须为整数"))
    if value < minimum or value > 2**53:
        raise _bad(field, _("须不小于%(min)d") % {"min": minimum})
    return value


def _moment(record: dict[str, Any], field: str) -> datetime:
    value = record.get(field)
    if not isinstance(value, str):
        raise _bad(field, _("须为ISO 8601时间文本"))
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _bad(field, _("不是有效的ISO 8601时间")) from None
    if moment.tzinfo is None:
        raise _bad(field, _("须带时区，如+08:00"))
    return moment


@lru_cache(maxsize=4096)
def valid_uscc(value: str) -> bool:
    return bool(uscc_check.is_valid(value))


def parse_record(record: Any, *, require_signature: bool) -> UsageFields:
    """Check one record's shape and values (no database); raises ``RecordError``."""
    if not isinstance(record, dict):
        raise RecordError("schema", _("记录须为JSON对象"))
    allowed = SIGNED_FIELDS
    unknown = [k for k in record if k not in allowed]
    if unknown:
        raise RecordError(
            "schema",
            _("含有未定义的字段：%(fields)s") % {"fields": ", ".join(sorted(map(str, unknown)))[:100]},
        )
    missing = [k for k in RECORD_FIELDS if k not in record]
    if missing:
        raise RecordError("schema", _("缺少字段：%(fields)s") % {"fields": ", ".join(missing)})
    raw_id = record["record_id"]
    try:
        record_id = uuid.UUID(raw_id) if isinstance(raw_id, str) else None
    except ValueError:
        record_id = None
    if record_id is None:
        raise _bad("record_id", _("须为UUID"))
    signature = record.get("signature", "")
    if require_signature and not signature:
        raise RecordError("bad_signature", _("缺少签名"))
    if not isinstance(signature, str) or len(signature) > 100:
        raise RecordError("bad_signature", _("签名格式无效"))
    uscc = _text(record, "enterprise_uscc", 18).upper()
    if not valid_uscc(uscc):
        raise RecordError("uscc", _("统一社会信用代码无效：%(value)s") % {"value": uscc})
    scenario = record["scenario"]
    if scenario not in SCENARIOS:
        raise _bad("scenario", _("须为以下之一：%(values)s") % {"values": " | ".join(Scenario.values)})
    cost_text = record["cost_cny"]
    try:
        cost = Decimal(cost_text) if isinstance(cost_text, str) else None
    except InvalidOperation:
        cost = None
    if cost is None or not cost.is_finite() or cost < 0 or cost != cost.quantize(Decimal("0.01")):
        raise _bad("cost_cny", _('须为不小于0、最多两位小数的金额文本，如"32.50"'))
    return UsageFields(
        record_id=record_id,
        node_id=_text(record, "node_id", 64),
        enterprise_uscc=uscc,
        work_ref=_text(record, "work_ref", 100),
        job_id=_text(record, "job_id", 100, allow_empty=True),
        scenario=scenario,
        gpu_model=_text(record, "gpu_model", 64),
        gpu_uuid=_text(record, "gpu_uuid", 96),
        gpu_count=_integer(record, "gpu_count", minimum=1),
        started_at=_moment(record, "started_at"),
        ended_at=_moment(record, "ended_at"),
        gpu_seconds=_number(record, "gpu_seconds"),
        avg_util_pct=_number(record, "avg_util_pct", maximum=100),
        max_mem_mib=_integer(record, "max_mem_mib", minimum=0),
        energy_wh=_number(record, "energy_wh"),
        cost_cny=cost.quantize(Decimal("0.01")),
        signature=signature,
    )
