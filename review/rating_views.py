"""Pages of 好差评 (docs/ratings.md): the enterprise's rating form, the approver's follow-up list and
the follow-up page where it is answered. Glue only: every write is an action of ``review.ratings``."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import current_user
from applications.views import get_own_application
from policy.calendar import get_state
from review import ratings
from review.models import DIMENSIONS, RatingFollowUp, Satisfaction
from review.transitions import ReviewError


class RatingForm(forms.Form):
    """One choice of the five levels per dimension and an optional comment."""

    comment = forms.CharField(
        label=gettext_lazy("评价意见（选填）"),
        required=False,
        max_length=ratings.COMMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": ratings.COMMENT_MAX}),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for name, label in DIMENSIONS.items():
            self.fields[name] = forms.TypedChoiceField(
                label=label,
                choices=Satisfaction.choices,
                coerce=int,
                widget=forms.RadioSelect,
                error_messages={"required": _("请为“%(dimension)s”选择评价等级") % {"dimension": label}},
            )
        self.order_fields([*DIMENSIONS, "comment"])

    def dimension_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in DIMENSIONS]


class ResponseForm(forms.Form):
    response = forms.CharField(
        label=gettext_lazy("回访答复"),
        max_length=ratings.RESPONSE_MAX,
        widget=forms.Textarea(attrs={"rows": 5, "maxlength": ratings.RESPONSE_MAX}),
        error_messages={"required": gettext_lazy("请填写回访答复")},
    )


@login_required
@require_http_methods(["GET", "POST"])
def rate(request: HttpRequest, pk: int) -> HttpResponse:
    """评价: the enterprise rates its ended case once; other people's cases are not found (404)."""
    user = current_user(request)
    application = get_own_application(request, pk)
    existing = ratings.rating_of(application)
    form = RatingForm(request.POST or None)
    status = 200
    error = ""
    if existing is not None:
        error = ratings.already_rated_message()
        status = 409 if request.method == "POST" else 200
    elif not ratings.rateable(application):
        error = _("本申请尚未办结，办结后才能评价")
        status = 409 if request.method == "POST" else 200
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            ratings.rate_application(
                application,
                levels={name: data[name] for name in DIMENSIONS},
                comment=data.get("comment", ""),
                actor=user,
                request=request,
            )
        except ReviewError as exc:
            error, status = exc.message, exc.status
        else:
            messages.success(request, _("感谢您的评价"))
            return redirect("applications:detail", pk=application.pk)
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "review/rate.html",
        {
            "application": application,
            "form": form,
            "error": error,
            "rating": existing,
            "rows": ratings.rating_rows(existing) if existing is not None else [],
        },
        status=status,
    )


def _require_follow_up_role(request: HttpRequest) -> None:
    if not current_user(request).has_role(ratings.FOLLOW_UP_ROLE):
        raise PermissionDenied


@login_required
@require_GET
def follow_ups(request: HttpRequest) -> HttpResponse:
    """差评回访: the open follow-ups first, by deadline, then the answered ones."""
    _require_follow_up_role(request)
    today = timezone.localdate()
    shown = request.GET.get("status", "open")
    if shown not in ("open", "closed", "all"):
        shown = "open"
    qs = RatingFollowUp.objects.select_related("rating__application__enterprise", "closed_by")
    if shown != "all":
        qs = qs.filter(status=shown)
    state = get_state()
    rows = [
        {
            "follow_up": f,
            "due": ratings.follow_up_due(f, state=state),
            "overdue": ratings.is_overdue(f, today, state=state),
        }
        for f in qs.order_by("-status", "opened_on", "id")[:200]  # open ("open" > "closed") first
    ]
    counts = {
        "open": RatingFollowUp.objects.filter(status=RatingFollowUp.Status.OPEN).count(),
        "closed": RatingFollowUp.objects.filter(status=RatingFollowUp.Status.CLOSED).count(),
    }
    return render(
        request, "review/follow_ups.html", {"rows": rows, "shown": shown, "counts": counts, "today": today}
    )


@login_required
@require_GET
def follow_up(request: HttpRequest, pk: int) -> HttpResponse:
    _require_follow_up_role(request)
    item = get_object_or_404(
        RatingFollowUp.objects.select_related("rating__application__enterprise", "closed_by"), pk=pk
    )
    return _follow_up_page(request, item, ResponseForm())


def _follow_up_page(
    request: HttpRequest, item: RatingFollowUp, form: ResponseForm, *, error: str = "", status: int = 200
) -> HttpResponse:
    return render(
        request,
        "review/follow_up.html",
        {
            "item": item,
            "rating": item.rating,
            "application": item.rating.application,
            "rows": ratings.rating_rows(item.rating),
            "due": ratings.follow_up_due(item),
            "overdue": ratings.is_overdue(item, timezone.localdate()),
            "form": form,
            "error": error,
        },
        status=status,
    )


@login_required
@require_POST
def close_follow_up(request: HttpRequest, pk: int) -> HttpResponse:
    _require_follow_up_role(request)
    item = get_object_or_404(
        RatingFollowUp.objects.select_related("rating__application__enterprise", "closed_by"), pk=pk
    )
    form = ResponseForm(request.POST)
    if not form.is_valid():
        return _follow_up_page(request, item, form, status=400)
    try:
        ratings.close_follow_up(
            item, response=form.cleaned_data["response"], actor=current_user(request), request=request
        )
    except ReviewError as exc:
        item.refresh_from_db()
        return _follow_up_page(request, item, form, error=exc.message, status=exc.status)
    messages.success(request, _("已答复并办结该差评回访"))
    return redirect("review:follow_ups")
