from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "display_name", "enterprise", "provider", "is_active", "last_login")
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        ("平台信息", {"fields": ("display_name", "phone", "enterprise", "provider", "password_changed_at")}),
    )
