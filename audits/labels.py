"""Chinese names of what the reconciliation's flags carry: severities, the names of their numbers
and the values that are codes (the measure, the dispersion method, the kind of conflict).

The flag codes themselves are named by :func:`audits.rules.flag_label`; this module names the
rest, so the inspector's pages show no code and no ISO timestamp.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audits.rules import flag_label, measure_label
from core.formats import datetime_text, money_text

SEVERITY_LABELS: dict[str, Any] = {
    "high": gettext_lazy("严重"),
    "medium": gettext_lazy("中等"),
    "low": gettext_lazy("轻微"),
}

NUMBER_LABELS: dict[str, Any] = {
    "measure": gettext_lazy("核对项目"),
    "declared": gettext_lazy("申报"),
    "monitored": gettext_lazy("监控"),
    "tolerance": gettext_lazy("容差"),
    "limit": gettext_lazy("容差上限"),
    "excess": gettext_lazy("超出部分"),
    "ratio": gettext_lazy("申报与监控之比"),
    "declared_cost": gettext_lazy("申报算力成本（元）"),
    "declared_gpu_minutes": gettext_lazy("申报 GPU 时长（卡·分钟）"),
    "count": gettext_lazy("记录数"),
    "gpu_minutes": gettext_lazy("GPU 时长（卡·分钟）"),
    "cost": gettext_lazy("费用（元）"),
    "window": gettext_lazy("制作期"),
    "start": gettext_lazy("开始"),
    "end": gettext_lazy("结束"),
    "before": gettext_lazy("制作期之前"),
    "after": gettext_lazy("制作期之后"),
    "rows": gettext_lazy("制作期后的申报明细行"),
    "monitored_before": gettext_lazy("制作期之前的监控用量"),
    "monitored_after": gettext_lazy("制作期之后的监控用量"),
    "declared_rows_after": gettext_lazy("制作期后的申报明细行"),
    "record_id": gettext_lazy("记录编号重复"),
    "gpu_time": gettext_lazy("同一 GPU 时段重叠"),
    "cross_enterprise": gettext_lazy("涉及其他企业"),
    "conflicts": gettext_lazy("冲突记录"),
    "kind": gettext_lazy("类型"),
    "key": gettext_lazy("记录"),
    "other_enterprise_uscc": gettext_lazy("另一企业的统一社会信用代码"),
    "other_work_ref": gettext_lazy("另一作品"),
    "other_application_id": gettext_lazy("另一申请"),
    "cost_per_work_minute": gettext_lazy("每分钟成本（元）"),
    "median": gettext_lazy("同类申请中位数（元）"),
    "scale": gettext_lazy("离散程度"),
    "method": gettext_lazy("离散程度算法"),
    "z": gettext_lazy("稳健 z 值"),
    "threshold": gettext_lazy("阈值"),
    "peers": gettext_lazy("同类申请数"),
    "value": gettext_lazy("数值"),
}

# Values that are codes, by the number that holds them.
VALUE_LABELS: dict[str, dict[str, Any]] = {
    "method": {"mad": gettext_lazy("中位数绝对偏差"), "mean_ad": gettext_lazy("平均绝对偏差")},
    "kind": {"record_id": gettext_lazy("记录编号重复"), "gpu_time": gettext_lazy("同一 GPU 时段重叠")},
}


# Numbers that are amounts of money (as text, "1000.00"): shown as 1,000.00.
AMOUNT_KEYS = frozenset({"declared_cost", "cost", "cost_per_work_minute", "median"})


def severity_label(code: str) -> str:
    return str(SEVERITY_LABELS.get(code, _("未分级")))


def number_label(key: str) -> str:
    label = NUMBER_LABELS.get(key)
    return str(label) if label is not None else _("其他")


def number_text(key: str, value: Any) -> str:
    """A number of a flag as text: labels for codes, Chinese dates, nested parts spelled out."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if isinstance(value, dict):
        return "；".join(f"{number_label(k)}：{number_text(k, v)}" for k, v in value.items())
    if isinstance(value, list):
        return "；".join(number_text(key, v) for v in value) or "—"
    if key == "measure":
        return measure_label(str(value))
    if key in AMOUNT_KEYS:
        return money_text(value)
    labels = VALUE_LABELS.get(key)
    if labels is not None and str(value) in labels:
        return str(labels[str(value)])
    return datetime_text(value) if isinstance(value, str) else str(value)


def flag_rows(numbers: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) of each number of a flag, in the flag's order."""
    return [(number_label(k), number_text(k, v)) for k, v in (numbers or {}).items()]


__all__ = ["flag_label", "flag_rows", "number_label", "number_text", "severity_label"]
