"""Names of the usage lines' audit events and their details (docs/usage-formats.md), for the log's pages."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.lib.usage_vocabulary import CATEGORIES, KINDS, SOURCES, UNITS
from ledger.labels import register_action_labels, register_detail_labels


def register_usage_labels() -> None:
    register_action_labels(
        {
            "application.clip_upload": _("上传抽样片段"),
            "usage.lines": _("提供方报送用量行"),
        }
    )
    register_detail_labels(
        fields={
            "lines": _("用量行数"),
            "rejected_lines": _("未计入的行"),
            "clip_id": _("片段编号"),
            "labelled": _("带 AIGC 隐式标识"),
            "provider_id": _("算力提供方编号"),
        },
        values={
            "kind": dict(KINDS),
            "unit": dict(UNITS),
            "category": dict(CATEGORIES),
            "source": dict(SOURCES),
        },
    )
