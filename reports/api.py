"""Reports API (mounted at /api/v1/reports/): the dashboard's data for software, read-only.

Session authentication (``django_auth``), like the pages; center staff only. The answer is the
same JSON the dashboard embeds for its charts: money as two-decimal strings, dates as ISO dates.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router
from ninja.errors import HttpError
from ninja.security import django_auth

from accounts.roles import STAFF_ROLES
from core.apierrors import ErrorsOut, FieldError, MessageOut
from reports import queries

router = Router(auth=django_auth, tags=["reports"])


@router.get(
    "/dashboard",
    summary="年度统计数据",
    response={200: dict[str, Any], 403: MessageOut, 422: ErrorsOut},
)
def dashboard(request: HttpRequest, year: int | None = None) -> dict[str, Any]:
    """Applications by state and month, amounts against the budget, deadline compliance,
    compute usage by provider and scenario, and audit findings, for one calendar year."""
    if not request.user.has_role(*STAFF_ROLES):  # type: ignore[union-attr]
        raise HttpError(403, _("仅区文促中心工作人员可查看统计数据"))
    if year is not None and not 2000 <= year <= 2100:
        raise FieldError("year", _("年度应在 2000–2100 之间"))
    return queries.dashboard(year or timezone.localdate().year)
