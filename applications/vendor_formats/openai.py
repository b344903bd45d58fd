"""OpenAI-style usage (JSON lines, one response or log record a line), as relays and LLM services log it:
``usage.prompt_tokens`` and ``usage.completion_tokens`` become an input-token and an output-token line."""

from __future__ import annotations

import datetime as dt
import json
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
    moment,
    raw_sha256,
    text,
)
from core.lib.usage_vocabulary import MODEL_SERVICE, PROVIDER_REPORTED

VENDOR = "OpenAI 兼容接口"


def is_usage_record(doc: Any) -> bool:
    usage = doc.get("usage") if isinstance(doc, Mapping) else None
    return isinstance(usage, Mapping) and "prompt_tokens" in usage


def record_lines(record: Mapping[str, Any], number: int) -> list[UsageLine]:
    usage = record.get("usage")
    if not isinstance(usage, Mapping):
        raise RowError(_("缺少 usage"))
    prompt = decimal(usage.get("prompt_tokens"), "usage.prompt_tokens")
    completion = decimal(
        usage.get("completion_tokens"), "usage.completion_tokens", required=False
    ) or Decimal(0)
    assert prompt is not None
    model = text(record.get("model"))
    started = moment(record.get("created"), "created")
    day: dt.date | None = started.date() if started else None
    common: dict[str, Any] = {
        "kind": MODEL_SERVICE,
        "vendor": text(record.get("provider") or record.get("owned_by")) or VENDOR,
        "source": PROVIDER_REPORTED,
        "category": category_of(model) if category_of(model) != "other" else "text",
        "sku": model,
        "task_id": text(record.get("id")),
        "period_start": started,
        "day": day,
        "raw_sha256": raw_sha256(dict(record)),
        "line_number": number,
    }
    return [
        UsageLine(quantity=prompt, unit="input_token", **common),
        UsageLine(quantity=completion, unit="output_token", **common),
    ]


def read_lines(result: FileResult, source: str) -> None:
    for number, raw in enumerate(source.splitlines(), start=1):
        if not raw.strip():
            continue
        result.records += 1
        try:
            record = json.loads(raw)
        except ValueError:
            result.reject(number, _("不是有效的 JSON"))
            continue
        try:
            if not isinstance(record, Mapping):
                raise RowError(_("不是一条用量记录"))
            result.lines.extend(record_lines(record, number))
        except RowError as exc:
            result.reject(number, str(exc))
