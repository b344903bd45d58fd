"""What the audit pages share: who may read and run them, a refusal shown on its form or page,
the working days left before a deadline."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import User, current_user
from accounts.roles import Role
from core.lib.workdays import UnknownYearError
from core.refusals import show_refusal
from policy.calendar import workdays_left

# Staff who may read reconciliation results and spot checks (reviewers see them on the review page).
READERS = (Role.REVIEWER, Role.HEAD, Role.APPROVER, Role.FINANCE, Role.INSPECTOR)
# Staff who may run a reconciliation on demand.
RUNNERS = (Role.REVIEWER, Role.HEAD, Role.APPROVER, Role.INSPECTOR)


def user_with(request: HttpRequest, *roles: str) -> User:
    user = current_user(request)
    if not user.has_role(*roles):
        raise PermissionDenied
    return user


refused_response = show_refusal  # the one way a page shows a refusal


def workdays_left_until(deadline: Any) -> int | None:
    try:
        return workdays_left(deadline, timezone.localdate())
    except UnknownYearError:
        return None


def flash_errors(request: HttpRequest, form: forms.Form) -> None:
    """Each of a refused form's messages, shown on the page the view redirects to."""
    for errors in form.errors.values():
        for e in errors:
            messages.error(request, str(e))
