"""Evidence levels of an application's declared usage (docs/usage-formats.md#evidence-levels).

Computed when shown, never a gate: each level says whether it is reached and why not. Shown on the
review page and the enterprise's page (panels registered in ``audits.receivers``) and on the audit page.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Sum
from django.urls import reverse
from django.utils.translation import gettext as _

from applications.clips import CLOSED, ClipView, checked_clips
from applications.models import Application, UsageFile
from applications.usage_lines import (
    TOTAL_UNITS,
    Base,
    UsageLine,
    plausibility,
    quantity_text,
    subsidy_base,
    summary_totals,
)
from applications.usage_store import declared_lines, detail_materials
from audits.queries import application_keys, key_filter
from core.lib.usage_vocabulary import (
    AGENT_SIGNED,
    APPLICANT_DECLARED,
    PACK_PURCHASE,
    PROVIDER_REPORTED,
    VENDOR_BILL,
)
from monitoring.models import ReportedUsageLine, UsageRecord

INVOICE = re.compile(r"\d{20}")
# A bill covers a declared group when it holds at least this share of the declared quantity.
COVER_SHARE = Decimal("0.95")


@dataclass(frozen=True)
class Level:
    code: str
    label: str
    reached: bool | None  # None: nothing to check at this level
    detail: str


@dataclass
class Evidence:
    levels: list[Level] = field(default_factory=list)
    totals: list[tuple[str, str]] = field(default_factory=list)
    plausibility: Decimal | None = None
    base: Base | None = None
    clips: list[ClipView] = field(default_factory=list)
    lines: int = 0
    left_out: list[dict[str, Any]] = field(default_factory=list)  # lines of vendor exports not read

    @property
    def highest(self) -> str:
        reached = [level.label for level in self.levels if level.reached]
        return reached[-1] if reached else _("未申报")


def _priced(lines: Iterable[UsageLine]) -> list[UsageLine]:
    return [line for line in lines if line.priced and not line.failed and line.kind != PACK_PURCHASE]


def invoice_level(lines: list[UsageLine]) -> Level:
    label = _("发票相符")
    priced = [line for line in _priced(lines) if line.source == APPLICANT_DECLARED]
    if not priced:
        return Level("invoice", label, None, _("没有申报方填报的计费行"))
    with_invoice = [line for line in priced if INVOICE.fullmatch(line.invoice_no)]
    return Level(
        "invoice",
        label,
        len(with_invoice) == len(priced),
        _("%(n)d / %(m)d 条计费行填有 20 位数电发票号码") % {"n": len(with_invoice), "m": len(priced)},
    )


def _key(line: UsageLine) -> tuple[str, str]:
    return (line.sku.strip().lower(), line.day.isoformat() if line.day else "")


def bill_level(lines: list[UsageLine]) -> Level:
    """Vendor bill lines cover the declared lines per SKU and day (a line without a day by SKU)."""
    label = _("厂商账单相符")
    declared = [
        line for line in _priced(lines) if line.source == APPLICANT_DECLARED and line.kind != "gpu_time"
    ]
    bills = [line for line in lines if line.source == VENDOR_BILL and not line.failed]
    if not declared:
        return Level(
            "vendor_bill",
            label,
            bool(bills) or None,
            _("计费行均来自厂商账单") if bills else _("没有模型服务或云资源的计费行"),
        )
    wanted: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for line in declared:
        sku, day = _key(line)
        wanted[(sku, line.unit, day)] += line.quantity

    def covered(sku: str, unit: str, day: str) -> Decimal:
        # A vendor names its item more fully than an applicant ("火山方舟 doubao-seedance-1-0-pro /
        # 视频生成 输出tokens" for "doubao-seedance-1-0-pro"): one name within the other matches.
        total = Decimal(0)
        for bill in bills:
            bill_sku, bill_day = _key(bill)
            if bill.unit == unit and (not day or bill_day == day) and (sku in bill_sku or bill_sku in sku):
                total += bill.quantity
        return total

    missing = [key for key, quantity in wanted.items() if covered(*key) < quantity * COVER_SHARE]
    return Level(
        "vendor_bill",
        label,
        not missing,
        _("%(n)d / %(m)d 组（模型或规格、日期）有厂商账单覆盖")
        % {"n": len(wanted) - len(missing), "m": len(wanted)},
    )


def provider_level(application: Application, lines: list[UsageLine]) -> Level:
    """Agent-signed GPU records cover the declared GPU time; provider-reported lines cover model services."""
    label = _("提供方记录覆盖")
    gpu = sum(
        (line.quantity for line in lines if line.unit == "gpu_second" and line.source == APPLICANT_DECLARED),
        Decimal(0),
    )
    services = {line.vendor for line in _priced(lines) if line.kind == "model_service"}
    reported = {line.vendor for line in lines if line.source in (PROVIDER_REPORTED, AGENT_SIGNED)}
    if not gpu and not services:
        return Level("provider", label, None, _("没有需提供方记录覆盖的用量"))
    monitored = Decimal(0)
    keys = application_keys(application)
    if services:
        reported |= set(ReportedUsageLine.objects.filter(key_filter(keys)).values_list("vendor", flat=True))
    if gpu:
        total = UsageRecord.objects.filter(key_filter(keys)).aggregate(s=Sum("gpu_seconds"))["s"]
        monitored = Decimal(str(total or 0))
    uncovered = sorted(services - reported)
    gpu_ok = monitored >= gpu * COVER_SHARE
    parts = []
    if gpu:
        parts.append(
            _("监控签名记录 %(m)s 卡时，申报 %(d)s 卡时")
            % {"m": (monitored / 3600).quantize(Decimal("0.01")), "d": (gpu / 3600).quantize(Decimal("0.01"))}
        )
    if uncovered:
        parts.append(_("无提供方报送：%(v)s") % {"v": "、".join(uncovered)})
    return Level("provider", label, gpu_ok and not uncovered, "；".join(parts) or _("已覆盖"))


def clip_level(clips: list[ClipView]) -> Level:
    label = _("抽样片段相符")
    if not clips:
        return Level("clips", label, False, _("尚未上传抽样片段"))
    matched = [view for view in clips if view.check.matched]
    return Level(
        "clips",
        label,
        len(matched) == len(clips),
        _("%(n)d / %(m)d 个片段的 AIGC 标识与申报的厂商和任务相符") % {"n": len(matched), "m": len(clips)},
    )


def evidence_for(application: Application) -> Evidence:
    lines = declared_lines(application)
    clips = checked_clips(application, lines)
    levels = [
        Level("declared", _("已申报"), bool(lines), _("%(n)d 条用量行") % {"n": len(lines)}),
        invoice_level(lines),
        bill_level(lines),
        provider_level(application, lines),
        clip_level(clips),
    ]
    totals = summary_totals(lines)
    return Evidence(
        levels=levels,
        totals=[(str(TOTAL_UNITS[key]), quantity_text(value)) for key, value in totals.items()],
        plausibility=plausibility(lines, application.work_minutes),
        base=subsidy_base(lines),
        clips=clips,
        lines=len(lines),
        left_out=left_out(application),
    )


def left_out(application: Application, limit: int = 50) -> list[dict[str, Any]]:
    """The lines of the vendor exports in force that could not be read, by file and line."""
    out: list[dict[str, Any]] = []
    for material in detail_materials(application):
        usage_file = UsageFile.objects.filter(material=material).first()
        for rejection in usage_file.rejections if usage_file is not None else []:
            out.append({"file": material.original_name, **rejection})
    return out[:limit]


def evidence_panel(*, application: Application, user: Any = None) -> dict[str, Any]:
    """The panel of the review page and the enterprise's page (with the clip upload for its applicants)."""
    from accounts.roles import Role

    may_upload = (
        user is not None
        and user.has_role(Role.APPLICANT)
        and user.enterprise_id == application.enterprise_id
        and application.status not in CLOSED
    )
    return {
        "template": "audits/_evidence_panel.html",
        "evidence": evidence_for(application),
        "clip_upload": reverse("applications:clip_upload", args=[application.pk]) if may_upload else "",
    }
