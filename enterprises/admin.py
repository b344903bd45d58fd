from django.contrib import admin

from core.admin import ModelAdmin
from enterprises.models import ConflictOfInterest, Enterprise, Provider


@admin.register(Enterprise)
class EnterpriseAdmin(ModelAdmin):
    list_display = ("name", "uscc", "status", "blacklisted", "created_at")
    list_filter = ("status", "blacklisted")
    search_fields = ("name", "uscc")
    readonly_fields = ("license_sha256", "verified_by", "verified_at", "blacklisted_at")


@admin.register(Provider)
class ProviderAdmin(ModelAdmin):
    list_display = ("name", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("name",)


@admin.register(ConflictOfInterest)
class ConflictAdmin(ModelAdmin):
    list_display = ("user", "enterprise", "reason", "declared_at")
