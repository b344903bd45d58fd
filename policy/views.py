"""Pages of the policy app: the public 补贴测算 and the staff list of holiday schedules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.roles import STAFF_ROLES, Role
from core import hooks
from core.lib.workdays import UnknownYearError, provisional_schedule
from policy.actions import load_holiday_year, preview_holiday_year
from policy.calendar import apply_due, builtin_years, get_calendar, next_year_warning, workdays_left
from policy.forms import CalcForm, HolidayYearUploadForm
from policy.loader import PolicyNotInForceError, params_at
from policy.models import HolidayYear
from policy.rules import calculate_subsidy


def _enterprise_granted(request: HttpRequest, year: int) -> Decimal | None:
    """The signed-in applicant's enterprise's granted total this year, if there is one.

    The applications app holds the money record and answers (``applications.money``); policy,
    below it, only asks. Nothing answers where the applications app is not installed.
    """
    enterprise_id = getattr(request.user, "enterprise_id", None)
    if not request.user.is_authenticated or enterprise_id is None:
        return None
    answers = hooks.collect(hooks.ANNUAL_KEPT, enterprise_id=enterprise_id, year=year)
    return answers[0] if answers else None


@require_http_methods(["GET"])
def calc(request: HttpRequest) -> HttpResponse:
    """补贴测算 (public): amount with its breakdown, and the last day to apply for a launch date.

    A GET form, so it works without JavaScript and a result can be linked; with htmx the result
    panel alone is re-rendered as the user types.
    """
    form = CalcForm(request.GET if request.GET else None)
    context: dict[str, Any] = {"form": form}
    today = timezone.localdate()
    try:
        params = params_at(today)
    except PolicyNotInForceError as exc:
        params = None
        context["policy_error"] = str(exc)
    context["params"] = params
    if params is not None and form.is_bound and form.is_valid():
        data = form.cleaned_data
        granted = data.get("granted_this_year")
        if granted is None:
            granted = _enterprise_granted(request, today.year)
            context["granted_auto"] = granted is not None
        result = calculate_subsidy(
            total_compute_cost=data["cost"],
            work_minutes=data["minutes"],
            overseas=data["overseas"],
            granted_this_year=granted or Decimal("0.00"),
            params=params,
        )
        context["result"] = result
        launch: dt.date | None = data.get("launch_date")
        if launch is not None:
            if launch > today:
                context["deadline_error"] = _("上线时间不能晚于今天")
            else:
                try:
                    due = apply_due(launch, params)
                    deadline = due.date
                    context["deadline"] = deadline
                    context["deadline_provisional"] = due.provisional
                    context["deadline_reason"] = due.reason
                    context["days_left"] = left = workdays_left(deadline, today)
                    context["days_overdue"] = max(-left, 0)
                except UnknownYearError as exc:
                    context["deadline_error"] = str(exc)
    template = "policy/_calc_result.html" if request.headers.get("HX-Request") else "policy/calc.html"
    return render(request, template, context)


def _can_view_calendar(user: Any) -> bool:
    return bool(user.has_role(*STAFF_ROLES, Role.SYSADMIN))


@login_required
@require_http_methods(["GET", "POST"])
def calendar(request: HttpRequest) -> HttpResponse:
    """节假日安排: the loaded years and the built-in range; a system administrator loads a year."""
    user: Any = request.user
    if not _can_view_calendar(user):
        raise PermissionDenied
    can_load = user.has_role(Role.SYSADMIN)
    form = HolidayYearUploadForm(request.POST or None, request.FILES or None) if can_load else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            try:
                row = load_holiday_year(form.schedule, actor=user, request=request)
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error("file", message)
            else:
                messages.success(request, _("已载入%(year)s年节假日安排") % {"year": row.year})
                return redirect("policy:calendar")
    years = builtin_years()
    calendar = get_calendar()
    rows = [
        {"row": row, "workday_count": calendar.schedule(row.year).workday_count}
        for row in HolidayYear.objects.select_related("loaded_by").order_by("-year")
    ]
    today = timezone.localdate()
    return render(
        request,
        "policy/calendar.html",
        {
            "rows": rows,
            "builtin_first": years.start,
            "builtin_last": years.stop - 1,
            "form": form,
            "next_year": today.year + 1,
            "next_year_known": calendar.knows_year(today.year + 1),
            "warning": next_year_warning(today, calendar),
            "years": [
                {"year": y, "schedule": calendar.schedule(y)} for y in range(today.year - 1, today.year + 2)
            ],
        },
    )


BLANK_ROWS = 6


@login_required
@require_http_methods(["GET", "POST"])
def calendar_enter(request: HttpRequest) -> HttpResponse:
    """录入正式节假日安排: the system administrator types the State Council's notice with date pickers,
    previews every open deadline that would move, and confirms (:func:`load_holiday_year`).

    The page starts from the provisional statutory holidays of next year; nothing is stored before
    the confirmation, and the preview is recomputed on confirmation (an earlier preview can be stale).
    """
    user: Any = request.user
    if not user.has_role(Role.SYSADMIN):
        raise PermissionDenied
    today = timezone.localdate()
    data: dict[str, Any]
    if request.method == "POST":
        data = {
            "year": request.POST.get("year", "").strip(),
            "source": request.POST.get("source", "").strip(),
            "holidays": [v.strip() for v in request.POST.getlist("holidays") if v.strip()],
            "workdays": [v.strip() for v in request.POST.getlist("workdays") if v.strip()],
        }
    else:
        year = today.year + 1
        data = {
            "year": str(year),
            "source": _("国务院办公厅关于%(year)s年部分节假日安排的通知") % {"year": year},
            "holidays": [
                d.isoformat() for d in sorted(provisional_schedule(year).holidays) if d.weekday() < 5
            ],
            "workdays": [],
        }
    context: dict[str, Any] = {"data": data, "blank": range(BLANK_ROWS), "errors": []}
    if request.method == "POST":
        try:
            if request.POST.get("action") == "confirm":
                row = load_holiday_year(data, actor=user, request=request)
                messages.success(
                    request,
                    _("已载入%(year)s年正式节假日安排，相关期限已重新计算并通知相关人员")
                    % {"year": row.year},
                )
                return redirect("policy:calendar")
            parsed, moves = preview_holiday_year(data)
            context.update(parsed=parsed, moves=moves, previewed=True)
        except ValidationError as exc:
            context["errors"] = exc.messages
    return render(request, "policy/calendar_enter.html", context)
