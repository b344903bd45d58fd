from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _


def site(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    roles: set[str] = set()
    if user is not None and user.is_authenticated:
        roles = set(user.role_codes())
    # Not "site_name": Django's login view sets that to the request's host name.
    return {
        "platform_name": _("中国影都人工智能算力服务平台"),
        "authority_name": settings.AUTHORITY_NAME,
        "user_roles": roles,
    }
