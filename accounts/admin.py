from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy

from accounts.models import User

if TYPE_CHECKING:  # the stubs make UserAdmin generic; at run time it is a plain class
    BaseUserAdmin = DjangoUserAdmin[User]
else:
    BaseUserAdmin = DjangoUserAdmin


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "display_name", "enterprise", "provider", "is_active", "last_login")
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (
            gettext_lazy("平台信息"),
            {"fields": ("display_name", "phone", "enterprise", "provider", "password_changed_at")},
        ),
    )
