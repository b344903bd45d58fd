"""Read-only admin pages: applications change only through ``applications.actions`` (audited)."""

from __future__ import annotations

from django.contrib import admin

from applications.models import AnnualGrant, Application, ConsumptionRow, Material
from core.admin import ReadOnlyAdmin


@admin.register(Application)
class ApplicationAdmin(ReadOnlyAdmin):
    list_display = (
        "__str__",
        "enterprise",
        "work_title",
        "status",
        "requested_amount",
        "granted_amount",
        "submitted_at",
    )
    list_filter = ("status", "overseas")
    search_fields = ("reference", "work_title", "filing_number", "enterprise__name")
    list_select_related = ("enterprise",)


@admin.register(Material)
class MaterialAdmin(ReadOnlyAdmin):
    list_display = ("application", "kind", "original_name", "version", "locked", "deleted", "uploaded_at")
    list_filter = ("kind", "locked", "deleted")
    search_fields = ("original_name", "sha256", "application__reference")
    exclude = ("file",)  # files are served by the permission-checked view only


@admin.register(ConsumptionRow)
class ConsumptionRowAdmin(ReadOnlyAdmin):
    list_display = ("application", "row_number", "record_id", "resource", "minutes", "amount", "scenario")
    search_fields = ("record_id", "application__reference")


@admin.register(AnnualGrant)
class AnnualGrantAdmin(ReadOnlyAdmin):
    list_display = ("enterprise", "year", "total", "cap", "updated_at")
