"""The usage record of docs/monitoring.md and its field checks, with a Chinese reason and a code per failure.

This is deliberately explicit code rather than a pydantic model: ingestion validates
thousands of records a second, and each failure must name the field in Chinese. The
checks here need no database; the ones that do (node, overlap, idempotency) are in
``monitoring.actions``.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from django.utils.translation import gettext as _
from stdnum.cn import uscc as uscc_check

from core.lib.money import MAX_AMOUNT
from core.lib.text import has_unsafe_text, safe_text
from monitoring.models import Scenario

RECORD_FIELDS = (
    "record_id", "node_id", "enterprise_uscc", "work_ref", "job_id", "scenario", "gpu_model", "gpu_uuid",
    "gpu_count", "started_at", "ended_at", "gpu_seconds", "avg_util_pct", "max_mem_mib", "energy_wh", "cost_cny",
)  # fmt: skip
SIGNED_FIELDS = (*RECORD_FIELDS, "signature")
# Optional fields the agent adds to say how a record was made (docs/monitoring.md): kept in the
# log entry as signed, checked for shape here, not stored in columns. Text fields with their
# maximum length; ``clock_max_error_ms`` is a whole number.
OPTIONAL_TEXT_FIELDS = {
    "device_uuid": 96, "split_rule": 32, "energy_rule": 32, "attribution": 32, "attribution_ref": 200,
    "clock_sync": 32,
}  # fmt: skip
OPTIONAL_INTEGER_FIELDS = ("clock_max_error_ms",)
ALLOWED_FIELDS = frozenset((*SIGNED_FIELDS, *OPTIONAL_TEXT_FIELDS, *OPTIONAL_INTEGER_FIELDS))
_REQUIRED_FIELDS = frozenset(RECORD_FIELDS)
SCENARIOS = frozenset(Scenario.values)
MAX_BATCH_RECORDS = 5000
# Bounds of what the database holds: gpu_count is a 32-bit column, max_mem_mib a 64-bit one read
# as a JSON number (exact to 2^53), cost_cny has 14 digits with 2 decimals; times lie in a sane window.
MAX_GPU_COUNT = 2**31 - 1
MAX_SAFE_INTEGER = 2**53
MAX_COST = MAX_AMOUNT
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")

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
    "device_uuid": "物理GPU UUID(device_uuid)",
    "split_rule": "分摊规则(split_rule)",
    "energy_rule": "能耗计算方式(energy_rule)",
    "attribution": "归属方式(attribution)",
    "attribution_ref": "归属依据(attribution_ref)",
    "clock_sync": "时钟同步状态(clock_sync)",
    "clock_max_error_ms": "时钟最大误差(clock_max_error_ms)",
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


def storable(value: Any, depth: int = 0) -> Any:
    """A JSON value the database can hold whatever the client sent: safe text, finite numbers, bounded depth."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return safe_text(value[:10_000])
    if isinstance(value, int):
        return value if abs(value) <= MAX_SAFE_INTEGER else str(value)[:100]
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if depth >= 8:
        return safe_text(repr(value)[:1000])
    if isinstance(value, dict):
        return {safe_text(str(k)[:200]): storable(v, depth + 1) for k, v in list(value.items())[:100]}
    if isinstance(value, list | tuple):
        return [storable(v, depth + 1) for v in value[:100]]
    return safe_text(repr(value)[:1000])


def _bad(field: str, problem: str) -> RecordError:
    return RecordError(
        "schema", _("%(field)s%(problem)s") % {"field": FIELD_LABELS.get(field, field), "problem": problem}
    )


def _text(record: dict[str, Any], field: str, max_length: int, *, allow_empty: bool = False) -> str:
    value = record.get(field)
    if not isinstance(value, str):
        raise _bad(field, _("须为文本"))
    if has_unsafe_text(value):
        raise _bad(field, _("含有不允许的字符（控制字符或无效的Unicode）"))
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
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise _bad(field, _("须为有限的数字"))
    if number < 0:
        raise _bad(field, _("不能为负数"))
    if maximum is not None and number > maximum:
        raise _bad(field, _("不能大于%(max)s") % {"max": maximum})
    return number


def _integer(record: dict[str, Any], field: str, *, minimum: int, maximum: int = MAX_SAFE_INTEGER) -> int:
    value = record.get(field)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(field, _("须为整数"))
    if value < minimum:
        raise _bad(field, _("须不小于%(min)d") % {"min": minimum})
    if value > maximum:
        raise _bad(field, _("不能大于%(max)d") % {"max": maximum})
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
    # A moment whose local year lies strictly inside the window's years is inside it whatever its
    # offset (less than a day): decided without the comparison across time zones, which is slow.
    if EARLIEST.year < moment.year < LATEST.year - 1:
        return moment
    try:
        sane = EARLIEST <= moment < LATEST
    except OverflowError:
        sane = False
    if not sane:
        raise _bad(field, _("须在2000年至2099年之间"))
    return moment


@lru_cache(maxsize=4096)
def valid_uscc(value: str) -> bool:
    return bool(uscc_check.is_valid(value))


def parse_record(record: Any, *, require_signature: bool) -> UsageFields:
    """Check one record's shape and values (no database); raises ``RecordError``."""
    if not isinstance(record, dict):
        raise RecordError("schema", _("记录须为JSON对象"))
    if not record.keys() <= ALLOWED_FIELDS:
        unknown = [k for k in record if k not in ALLOWED_FIELDS]
        raise RecordError(
            "schema",
            _("含有未定义的字段：%(fields)s")
            % {"fields": safe_text(", ".join(sorted(map(str, unknown)))[:100])},
        )
    if not record.keys() >= _REQUIRED_FIELDS:
        missing = [k for k in RECORD_FIELDS if k not in record]
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
    if not isinstance(signature, str) or len(signature) > 100 or not _BASE64.fullmatch(signature):
        raise RecordError("bad_signature", _("签名格式无效"))
    uscc = _text(record, "enterprise_uscc", 18).upper()
    if not valid_uscc(uscc):
        raise RecordError("uscc", _("统一社会信用代码无效：%(value)s") % {"value": uscc})
    scenario = record["scenario"]
    if not isinstance(scenario, str) or scenario not in SCENARIOS:
        # The codes are what the record carries; each is named in Chinese beside it.
        named = "、".join(f"{value}（{label}）" for value, label in Scenario.choices)
        raise _bad("scenario", _("须为以下之一：%(values)s") % {"values": named})
    cost_text = record["cost_cny"]
    try:
        cost = Decimal(cost_text) if isinstance(cost_text, str) and len(cost_text) <= 40 else None
        if cost is not None and (
            not cost.is_finite() or cost < 0 or cost > MAX_COST or cost != cost.quantize(Decimal("0.01"))
        ):
            cost = None
    except (InvalidOperation, ValueError):
        cost = None
    if cost is None:
        raise _bad("cost_cny", _('须为0至999,999,999,999.99之间、最多两位小数的金额文本，如"32.50"'))
    for name, max_length in OPTIONAL_TEXT_FIELDS.items():
        if name in record:
            _text(record, name, max_length, allow_empty=True)
    for name in OPTIONAL_INTEGER_FIELDS:
        if name in record:
            _integer(record, name, minimum=0)
    return UsageFields(
        record_id=record_id,
        node_id=_text(record, "node_id", 64),
        enterprise_uscc=uscc,
        work_ref=_text(record, "work_ref", 100),
        job_id=_text(record, "job_id", 100, allow_empty=True),
        scenario=scenario,
        gpu_model=_text(record, "gpu_model", 64),
        gpu_uuid=_text(record, "gpu_uuid", 96),
        gpu_count=_integer(record, "gpu_count", minimum=1, maximum=MAX_GPU_COUNT),
        started_at=_moment(record, "started_at"),
        ended_at=_moment(record, "ended_at"),
        gpu_seconds=_number(record, "gpu_seconds"),
        avg_util_pct=_number(record, "avg_util_pct", maximum=100),
        max_mem_mib=_integer(record, "max_mem_mib", minimum=0),
        energy_wh=_number(record, "energy_wh"),
        cost_cny=cost.quantize(Decimal("0.01")),
        signature=signature,
    )
