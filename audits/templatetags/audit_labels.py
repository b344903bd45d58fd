"""``{{ f.code|flag_label }}``, ``{{ f.severity|severity_label }}`` and ``{{ f.numbers|flag_rows }}``
for the reconciliation's flags (labels in :mod:`audits.labels`)."""

from __future__ import annotations

from typing import Any

from django import template

from audits import labels, rules

register = template.Library()


@register.filter
def flag_label(code: str) -> str:
    return str(rules.flag_label(code))


@register.filter
def severity_label(code: str) -> str:
    return labels.severity_label(code)


@register.filter
def flag_rows(numbers: dict[str, Any]) -> list[tuple[str, str]]:
    return labels.flag_rows(numbers)
