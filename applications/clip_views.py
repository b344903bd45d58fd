"""The applicant's upload of sampled raw clips (docs/usage-formats.md#sampled-clips)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import current_user
from applications.clips import ClipRefused, add_sampled_clip
from applications.views import get_own_application
from core.uploads import read_bounded


@login_required
@require_POST
def clip_upload(request: HttpRequest, pk: int) -> HttpResponse:
    application = get_own_application(request, pk)
    files = request.FILES.getlist("clip")
    if not files:
        messages.error(request, _("请选择要上传的抽样片段"))
    saved = 0
    for upload in files[:5]:
        try:
            content = read_bounded(upload)
            add_sampled_clip(
                application, upload.name or "clip", content, actor=current_user(request), request=request
            )
            saved += 1
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        except ClipRefused as exc:
            messages.error(request, exc.message)
            break
    if saved:
        messages.success(request, _("已上传 %(count)d 个抽样片段。") % {"count": saved})
    return redirect(reverse("applications:detail", args=[application.pk]) + "#evidence")
