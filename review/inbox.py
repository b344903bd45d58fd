"""The in-app inbox (站内消息): every notice that concerns a person, e-mail being the second channel.

Messages are listed with filters (unread, kind); opening one shows it as HTML with working links
and marks it read. The navigation asks :func:`unread_badge` for the unread count after the page
has loaded (htmx), so no page pays a query for it.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.models import current_user
from core.models import Notification
from core.pagination import paginate
from review.actions import mark_notifications_read

PAGE_SIZE = 20


@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    messages = Notification.objects.filter(user=user)
    unread_only = request.GET.get("unread") == "1"
    kind = request.GET.get("kind", "")
    if unread_only:
        messages = messages.filter(read_at__isnull=True)
    if kind in Notification.Kind.values:
        messages = messages.filter(kind=kind)
    else:
        kind = ""
    page = paginate(request, messages, PAGE_SIZE)
    kinds_present = set(Notification.objects.filter(user=user).values_list("kind", flat=True).distinct())
    query = "&".join(p for p in (("unread=1" if unread_only else ""), (f"kind={kind}" if kind else "")) if p)
    return render(
        request,
        "review/inbox.html",
        {
            "page": page,
            "unread": Notification.objects.filter(user=user, read_at__isnull=True).count(),
            "unread_only": unread_only,
            "kind": kind,
            "kinds": [(k.value, k.label) for k in Notification.Kind if k.value in kinds_present],
            "query": query,
        },
    )


@login_required
@require_GET
def message(request: HttpRequest, pk: int) -> HttpResponse:
    """One message, read in full; opening it marks it read."""
    user = current_user(request)
    notification = get_object_or_404(Notification, pk=pk, user=user)
    if notification.read_at is None:
        mark_notifications_read(user, [notification.pk], actor=user)
        notification.refresh_from_db(fields=["read_at"])
    return render(request, "review/message.html", {"n": notification})


@login_required
@require_POST
def inbox_read(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    ids = [int(x) for x in request.POST.getlist("id") if x.isdigit()]
    mark_notifications_read(user, ids or None, actor=user)
    return redirect("review:inbox")


@login_required
@require_GET
def unread_badge(request: HttpRequest) -> HttpResponse:
    # Pages that every other URL redirects to (password change, second factor) leave the badge
    # out (``{% block unread_badge %}``), so a redirect never swaps a whole page into the nav.
    user = current_user(request)
    count = Notification.objects.filter(user=user, read_at__isnull=True).count()
    return render(request, "review/_unread_badge.html", {"count": count})
