from __future__ import annotations

from django.contrib import admin

from core.admin import ReadOnlyAdmin
from monitoring.models import ApiToken, Node, RejectedRecord, UsageBatch, UsageRecord


@admin.register(Node)
class NodeAdmin(ReadOnlyAdmin):
    list_display = ("node_id", "provider", "active", "created_at")
    list_filter = ("active", "provider")
    search_fields = ("node_id",)


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ("prefix", "provider", "name", "created_at", "last_used_at", "revoked_at")
    exclude = ("token_hash",)


@admin.register(UsageBatch)
class UsageBatchAdmin(ReadOnlyAdmin):
    list_display = (
        "received_at",
        "provider",
        "source",
        "total",
        "accepted",
        "duplicate",
        "rejected",
        "signed",
    )
    list_filter = ("source", "signed", "provider")


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyAdmin):
    list_display = (
        "record_id",
        "enterprise_uscc",
        "work_ref",
        "gpu_uuid",
        "started_at",
        "ended_at",
        "gpu_seconds",
        "signed",
    )
    list_filter = ("signed", "scenario", "provider")
    search_fields = ("record_id", "enterprise_uscc", "work_ref", "gpu_uuid", "job_id")


@admin.register(RejectedRecord)
class RejectedRecordAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "record_id", "code", "reason")
    list_filter = ("code",)
