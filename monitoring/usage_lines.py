"""Usage lines of every kind reported by providers (docs/usage-formats.md): a GPU centre's time, a model
service's tokens or generated seconds, a reseller's lines naming the upstream vendor.

    POST /api/v1/usage/lines   Authorization: Bearer <provider token>
         {"lines": [{"line_id", "enterprise_uscc", "work_ref", "kind", "vendor", "quantity", "unit", ...}]}

The GPU records of the agent (``/batches``, signed by the node's key) are unchanged; a line here is
authenticated by the provider's token, and each accepted batch is appended to the log with the SHA-256 of
every line, so a line changed afterwards no longer matches the log. Each bad line is named with a Chinese
reason and the good lines of a batch are accepted; a line id already reported is a duplicate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from core.lib.text import has_unsafe_text
from core.lib.usage_vocabulary import CATEGORIES, KINDS, UNITS
from core.transactions import durable
from enterprises.models import Provider
from ledger.actions import record_event
from ledger.rows import seal
from monitoring.models import ReportedUsageLine
from monitoring.schemas import valid_uscc

MAX_LINES = 5000
TEXT_FIELDS = {
    "line_id": 128,
    "work_ref": 100,
    "vendor": 128,
    "sku": 256,
    "task_id": 128,
    "resolution": 32,
    "invoice_no": 32,
}
MONEY_FIELDS = ("list_amount", "coupon", "voucher", "payable", "paid")
OPTIONAL = {"category", "sku", "task_id", "day", "output_seconds", "resolution", "pack_units", "invoice_no"}
REQUIRED = ("line_id", "enterprise_uscc", "work_ref", "kind", "vendor", "quantity", "unit")
ALLOWED = frozenset({*REQUIRED, *OPTIONAL, *MONEY_FIELDS})


class LineError(ValueError):
    pass


@dataclass
class LinesResult:
    results: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
        for item in self.results:
            counts[item["status"]] += 1
        return {"results": self.results, **counts}


def _decimal(line: dict[str, Any], name: str, *, required: bool = False) -> Decimal | None:
    value = line.get(name)
    if value is None or value == "":
        if required:
            raise LineError(_("缺少%(field)s") % {"field": name})
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise LineError(_('%(field)s须为数字文本，如"12.50"') % {"field": name})
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise LineError(_("%(field)s不是数字") % {"field": name}) from None
    if not number.is_finite() or number < 0 or number >= Decimal("1e12"):
        raise LineError(_("%(field)s须为不小于 0 的有限数字") % {"field": name})
    return number


def parse_line(line: Any) -> dict[str, Any]:
    """One reported line's fields, checked; raises ``LineError`` with a Chinese reason."""
    if not isinstance(line, dict):
        raise LineError(_("用量行须为 JSON 对象"))
    unknown = sorted(str(k) for k in line if k not in ALLOWED)
    if unknown:
        raise LineError(_("含有未定义的字段：%(fields)s") % {"fields": ", ".join(unknown)[:100]})
    missing = [k for k in REQUIRED if k not in line]
    if missing:
        raise LineError(_("缺少字段：%(fields)s") % {"fields": ", ".join(missing)})
    values: dict[str, Any] = {}
    for name, limit in TEXT_FIELDS.items():
        value = line.get(name, "")
        if not isinstance(value, str) or has_unsafe_text(value) or len(value.strip()) > limit:
            raise LineError(_("%(field)s须为不超过 %(n)d 个字符的文本") % {"field": name, "n": limit})
        values[name] = value.strip()
    for name in ("line_id", "work_ref", "vendor"):
        if not values[name]:
            raise LineError(_("%(field)s不能为空") % {"field": name})
    uscc = str(line.get("enterprise_uscc", "")).strip().upper()
    if not valid_uscc(uscc):
        raise LineError(_("统一社会信用代码无效：%(value)s") % {"value": uscc[:20]})
    values["enterprise_uscc"] = uscc
    if line["kind"] not in KINDS:
        raise LineError(_("kind 须为以下之一：%(values)s") % {"values": "、".join(KINDS)})
    if line["unit"] not in UNITS:
        raise LineError(_("unit 须为以下之一：%(values)s") % {"values": "、".join(UNITS)})
    category = line.get("category", "other")
    if category not in CATEGORIES:
        raise LineError(_("category 须为以下之一：%(values)s") % {"values": "、".join(CATEGORIES)})
    values |= {"kind": line["kind"], "unit": line["unit"], "category": category}
    values["quantity"] = _decimal(line, "quantity", required=True)
    for name in (*MONEY_FIELDS, "output_seconds", "pack_units"):
        values[name] = _decimal(line, name)
    day = line.get("day")
    if day is not None:
        try:
            values["day"] = dt.date.fromisoformat(str(day))
        except ValueError:
            raise LineError(_("day 须为日期，如 2026-11-03")) from None
    return values


def canonical_sha256(line: dict[str, Any]) -> str:
    text = json.dumps(line, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def record_usage_lines(
    provider: Provider, lines: list[Any], *, actor_repr: str, request: HttpRequest | None = None
) -> LinesResult:
    """Accept the good lines of one batch, in one transaction, with one log event naming every line's hash."""
    result = LinesResult()
    parsed: list[tuple[int, dict[str, Any], str]] = []
    for index, line in enumerate(lines):
        try:
            values = parse_line(line)
        except LineError as exc:
            line_id = line.get("line_id") if isinstance(line, dict) else None
            result.results.append(
                {
                    "index": index,
                    "line_id": str(line_id)[:128] if line_id else None,
                    "status": "rejected",
                    "reason": str(exc),
                }
            )
            continue
        parsed.append((index, values, canonical_sha256(line)))
    now = timezone.now()
    with durable():
        known = set(
            ReportedUsageLine.objects.filter(
                provider=provider, line_id__in=[values["line_id"] for _i, values, _h in parsed]
            ).values_list("line_id", flat=True)
        )
        rows = []
        seen: set[str] = set()
        for index, values, digest in parsed:
            if values["line_id"] in known or values["line_id"] in seen:
                result.results.append({"index": index, "line_id": values["line_id"], "status": "duplicate"})
                continue
            seen.add(values["line_id"])
            rows.append(ReportedUsageLine(provider=provider, line_sha256=digest, received_at=now, **values))
            result.results.append({"index": index, "line_id": values["line_id"], "status": "accepted"})
        created = ReportedUsageLine.objects.bulk_create(rows, batch_size=1000)
        # A bulk insert sends no signal: the lines are sealed in the log here (audits.coverage).
        seal(ReportedUsageLine, [row.pk for row in created])
        if rows:
            record_event(
                "usage.lines",
                actor=None,
                actor_repr=actor_repr,
                after={
                    "provider_id": provider.pk,
                    "lines": len(rows),
                    "sha256": [row.line_sha256 for row in rows],
                },
                request=request,
            )
    result.results.sort(key=lambda item: item["index"])
    return result
