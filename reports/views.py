"""Pages of the reports app: the center's dashboard, its XLSX export and the enterprise's own view.

Read-only: the only write is the audit event of an export.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts.models import current_user
from accounts.roles import STAFF_ROLES, Role
from core.xlsx import xlsx_response
from reports import queries
from reports.actions import record_export
from reports.exports import build_workbook

MIN_YEAR = 2000
MAX_YEAR = 2100


def require_center_staff(request: HttpRequest) -> None:
    """Dashboards and exports are for the center's staff (初审, 主管, 审批, 财务, 稽查) only."""
    if not current_user(request).has_role(*STAFF_ROLES):
        raise PermissionDenied


def requested_year(request: HttpRequest) -> int:
    """The ``year`` query parameter; the current year when absent or not a plausible year."""
    raw = request.GET.get("year", "")
    if raw.isdigit() and MIN_YEAR <= int(raw) <= MAX_YEAR:
        return int(raw)
    return timezone.localdate().year


def local_link(link: str) -> str | None:
    """A notice's link if it points inside the platform (a path), else nothing: never an outside URL."""
    return link if link.startswith("/") and not link.startswith("//") and "\\" not in link else None


@require_GET
@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """统计报表: applications, amounts against the budget, deadline compliance, usage and findings."""
    require_center_staff(request)
    year = requested_year(request)
    today = timezone.localdate()
    data = queries.dashboard(year, today)
    return render(
        request,
        "reports/dashboard.html",
        {
            "data": data,
            "year": year,
            "years": queries.available_years(today, shown=year),
            "today": today,
            "compliance_rows": [
                (_("审核时限"), data["compliance"]["review"]),
                (_("兑现时限"), data["compliance"]["payment"]),
                (_("兑现周期"), data["compliance"]["cycle"]),
            ],
        },
    )


@require_GET
@login_required
def export_xlsx(request: HttpRequest) -> HttpResponse:
    """The year's workbook; each export is an audit event (report.export)."""
    require_center_staff(request)
    year = requested_year(request)
    content, rows = build_workbook(year)
    record_export(actor=current_user(request), year=year, rows=rows, request=request)
    return xlsx_response(content, f"yingdu-report-{year}.xlsx")


@require_GET
@login_required
def mine(request: HttpRequest) -> HttpResponse:
    """The enterprise's own view: its applications, the quota left this year and its notices."""
    user = current_user(request)
    if not user.has_role(Role.APPLICANT):
        raise PermissionDenied
    if user.enterprise_id is None:
        raise Http404
    overview = queries.enterprise_overview(user.enterprise_id, user)
    rows = [(app, reverse("applications:detail", args=[app.pk])) for app in overview.pop("applications")]
    notices = [(n, local_link(getattr(n, "link", ""))) for n in overview.pop("notices")]
    return render(
        request,
        "reports/mine.html",
        {
            **overview,
            "rows": rows,
            "notices": notices,
            "enterprise": user.enterprise,
            "inbox_url": reverse("review:inbox"),
        },
    )
