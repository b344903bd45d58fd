"""The system administrator's record of text messages (管理控制台 → 短信发送记录, docs/sms.md)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import current_user
from accounts.roles import Role
from core.models import SmsMessage

PAGE_SIZE = 50


@login_required
def sms_log(request: HttpRequest) -> HttpResponse:
    """Every message sent or being sent, newest first: number masked, template, status, attempts."""
    if not current_user(request).has_role(Role.SYSADMIN):
        raise PermissionDenied
    page = Paginator(SmsMessage.objects.order_by("-created_at", "-id"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "review/sms_log.html", {"page": page})
