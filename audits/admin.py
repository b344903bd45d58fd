"""Read-only admin for audit records: every change goes through the actions of ``audits``
(findings, fraud, reconciliation, spot checks), which check the rules and write the audit event;
the admin only lets administrators look."""

from __future__ import annotations

from django.contrib import admin

from audits.models import Clawback, DataNotice, Finding, Objection, ReconciliationRun, Repayment, SpotCheck
from core.admin import ReadOnlyAdmin


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    list_display = ("application", "run_at", "trigger", "checkpoint_tree_size", "flag_count", "severity")
    list_filter = ("trigger", "severity")


@admin.register(SpotCheck)
class SpotCheckAdmin(ReadOnlyAdmin):
    list_display = ("quarter", "n", "k", "checkpoint_tree_size", "created_by", "created_at")


@admin.register(Finding)
class FindingAdmin(ReadOnlyAdmin):
    list_display = ("id", "application", "source", "status", "created_by", "created_at")
    list_filter = ("source", "status")


@admin.register(DataNotice)
class DataNoticeAdmin(ReadOnlyAdmin):
    list_display = ("finding", "notice_date", "objection_deadline", "sent_by")


@admin.register(Objection)
class ObjectionAdmin(ReadOnlyAdmin):
    list_display = ("notice", "submitted_by", "submitted_at")


@admin.register(Clawback)
class ClawbackAdmin(ReadOnlyAdmin):
    list_display = ("application", "amount", "repaid", "status", "created_by", "created_at")
    list_filter = ("status",)


@admin.register(Repayment)
class RepaymentAdmin(ReadOnlyAdmin):
    list_display = ("clawback", "amount", "date", "reference", "recorded_by")
