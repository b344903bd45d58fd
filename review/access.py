"""Who may open a staff page of review: staff roles only; an application they may not see is a 404."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404

from accounts.models import User, current_user
from accounts.roles import STAFF_ROLES
from applications.models import Application
from applications.states import Status


def staff_user(request: HttpRequest) -> User:
    user = current_user(request)
    if not user.has_role(*STAFF_ROLES):
        raise PermissionDenied
    return user


def staff_application(request: HttpRequest, pk: int) -> tuple[User, Application]:
    """An application for a staff page; anyone else gets 404 (no hint that the id exists)."""
    user = current_user(request)
    if not user.has_role(*STAFF_ROLES):
        raise Http404
    app = get_object_or_404(Application.objects.select_related("enterprise", "licence"), pk=pk)
    if app.status == Status.DRAFT:
        raise Http404  # drafts are the applicant's own until submitted
    return user, app
