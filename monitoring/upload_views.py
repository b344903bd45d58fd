"""The provider portal's usage upload: the form with the field documentation, the CSV template,
and a batch's results (accepted count, each rejection by file line and job id).

The file goes through ``monitoring.actions.import_usage_file``, the checks of the API and the CLI.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from enterprises.models import Provider
from monitoring import uploads
from monitoring.actions import ProviderError, import_usage_file
from monitoring.forms import UsageUploadForm
from monitoring.models import UsageBatch
from monitoring.records import PAGE_SIZE, own_records
from monitoring.views import STAFF, own_provider, request_user


def _page(request: HttpRequest, provider: Provider, form: UsageUploadForm, status: int = 200) -> HttpResponse:
    return render(
        request,
        "monitoring/upload.html",
        {
            "provider": provider,
            "form": form,
            "columns": uploads.column_rows(),
            "sacct_columns": uploads.SACCT_COLUMNS,
            "sacct_format": uploads.SACCT_FORMAT,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    provider = own_provider(request)
    if request.method != "POST":
        return _page(request, provider, UsageUploadForm())
    form = UsageUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, provider, form, status=400)
    if provider.status != Provider.Status.APPROVED:
        form.add_error(None, _("算力提供方尚未获批准或已停用，不能上报使用记录"))
        return _page(request, provider, form, status=403)
    user = request_user(request)
    try:
        result = import_usage_file(
            provider,
            form.cleaned_data["file"],
            actor=user,
            actor_repr=f"portal:{user.username}",
            signature_b64=form.cleaned_data["signature"],
            fmt=form.cleaned_data["format"],
            defaults=form.defaults(),
            request=request,
        )
    except ProviderError as exc:
        form.add_error("file", str(exc))
        return _page(request, provider, form, status=400)
    return redirect("monitoring:batch", pk=result.batch.pk)


@login_required
@require_GET
def template(request: HttpRequest) -> HttpResponse:
    provider = own_provider(request)
    response = HttpResponse(uploads.template_csv(provider), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="usage-template.csv"'
    return response


@login_required
@require_GET
def batch(request: HttpRequest, pk: int) -> HttpResponse:
    """One batch: its counts and its rejections in file order. Providers see only their own."""
    user = request_user(request)
    if user.has_role(*STAFF):
        found = get_object_or_404(UsageBatch.objects.select_related("provider"), pk=pk)
    else:
        found = get_object_or_404(UsageBatch, pk=pk, provider=own_provider(request))
    rejections = list(found.rejections.order_by("line", "id")[: uploads.MAX_LISTED_REJECTIONS])
    accepted = list(own_records(found.provider, batch_id=found.pk)[: PAGE_SIZE + 1])
    return render(
        request,
        "monitoring/batch.html",
        {
            "batch": found,
            "rejections": rejections,
            "more": max(found.rejected - len(rejections), 0),
            "accepted_records": accepted[:PAGE_SIZE],
            "more_accepted": len(accepted) > PAGE_SIZE,
            "own": not user.has_role(*STAFF),
        },
    )
