"""The applicant's side of review: the answer to a supplement notice."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.models import User, current_user
from accounts.roles import Role
from applications.models import Application
from applications.states import Status
from core.refusals import show_refusal
from review import legal, resubmission
from review.forms import SupplementResponseForm
from review.models import notices_of
from review.transitions import ReviewError


def _own_application(request: HttpRequest, pk: int) -> tuple[User, Application]:
    user = current_user(request)
    app = get_object_or_404(Application, pk=pk)
    if not user.has_role(Role.APPLICANT) or user.enterprise_id != app.enterprise_id:
        raise Http404
    return user, app


@login_required
@require_http_methods(["GET", "POST"])
def supplement(request: HttpRequest, pk: int) -> HttpResponse:
    """The applicant sees exactly the items of the open notice, answers them and resubmits."""
    user, app = _own_application(request, pk)
    notices = list(notices_of(app.pk).prefetch_related("items"))
    notice = next((n for n in reversed(notices) if n.resubmitted_date is None), None)
    if notice is None or app.status != Status.SUPPLEMENT_REQUESTED:
        return render(request, "review/supplement_done.html", {"app": app, "notices": notices})
    notice.application = app
    form = SupplementResponseForm(notice, request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            resubmission.resubmit_application(
                app,
                answers=form.cleaned_data["answers"],
                row_values=form.cleaned_data["row_values"],
                files=form.cleaned_data["uploads"],
                note=form.cleaned_data.get("note", ""),
                actor=user,
                request=request,
            )
        except ReviewError as exc:
            show_refusal(request, exc, form)
            status = exc.status
        else:
            messages.success(request, _("补正材料已提交，审核时限恢复计算"))
            return redirect("review:supplement", pk=app.pk)
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "review/supplement.html",
        {
            "app": app,
            "notice": notice,
            "document": legal.supplement_document(app, notice, list(notice.items.all())),
            "form": form,
            "earlier": notices[:-1],
        },
        status=status,
    )
