from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from core.admin import ModelAdmin
from policy.models import HolidayYear


@admin.register(HolidayYear)
class HolidayYearAdmin(ModelAdmin):
    """Read-only: a year is loaded with ``yingdu calendar load`` or on /policy/calendar/, which
    validate it and write the audit event."""

    list_display = ("year", "source", "loaded_by", "loaded_at")
    readonly_fields = ("year", "source", "holidays", "workdays", "loaded_by", "loaded_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
