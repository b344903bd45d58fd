"""Downloading an entry's offline proof (``ledger.proofs``): whoever may read the entry may download it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from ledger import proofs
from ledger.actions import record_event
from ledger.models import Entry
from ledger_web.api import may_read


@login_required
def proof_download(request: HttpRequest, index: int) -> HttpResponse:
    row = Entry.objects.filter(leaf_index=index).only("leaf_index", "enterprise_id", "provider_id").first()
    if row is None or not may_read(request, row):
        raise Http404(_("没有这条日志条目"))
    text = proofs.tlog_proof(index)
    if text is None:
        return HttpResponse(
            _("这条记录尚未被见证方副署的检查点覆盖，请稍后再下载。"),
            status=409,
            content_type="text/plain; charset=utf-8",
        )
    record_event(
        "ledger.proof_download",
        actor=request.user,
        after={"leaf_index": index},
        request=request,
        enterprise_id=row.enterprise_id,
    )
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{proofs.filename(index)}"'
    return response
