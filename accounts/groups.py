from __future__ import annotations

from django.contrib.auth.models import Group, Permission

from accounts.roles import ROLE_PERMISSIONS, Role


def ensure_role_groups() -> None:
    for role in Role:
        group, _ = Group.objects.get_or_create(name=role.value)
        for app_label, codename in ROLE_PERMISSIONS.get(role.value, []):
            perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if perm is not None:
                group.permissions.add(perm)
