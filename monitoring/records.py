"""A provider's own usage records: what it reads of them on the portal and through the API.

Per batch (an API call or an uploaded file), the accepted records with the record id (given by
the provider or generated for a file row without one), the log leaf index and the receipt, and
the rejected ones by file line. One query for both channels: :func:`own_records`; one receipt
for both: :func:`record_receipt` (docs/monitoring.md#a-providers-own-records).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from enterprises.models import Provider
from ledger import services
from ledger.actions import sign_checkpoint
from monitoring.models import UsageBatch, UsageRecord
from monitoring.views import own_provider

PAGE_SIZE = 50
MAX_API_LIMIT = 1000


def own_records(
    provider: Provider,
    *,
    batch_id: int | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> QuerySet[UsageRecord]:
    """The provider's accepted records, oldest received first, optionally of one batch and received
    in ``[since, until)``. Another provider's batch yields nothing."""
    records = UsageRecord.objects.filter(provider=provider)
    if batch_id is not None:
        records = records.filter(batch_id=batch_id)
    if since is not None:
        records = records.filter(received_at__gte=since)
    if until is not None:
        records = records.filter(received_at__lt=until)
    return records.order_by("received_at", "leaf_index")


def record_receipt(provider: Provider, record_id: uuid.UUID) -> dict[str, Any] | None:
    """The log receipt of one of the provider's records (``ledger.offline`` format), or None."""
    record = UsageRecord.objects.filter(record_id=record_id, provider=provider).only("leaf_index").first()
    if record is None:
        return None
    sign_checkpoint()
    return {"record_id": str(record_id), **services.receipt(record.leaf_index)}


def record_json(record: UsageRecord) -> dict[str, Any]:
    return {
        "record_id": str(record.record_id),
        "batch_id": record.batch_id,
        "leaf_index": record.leaf_index,
        "node_id": record.node_name,
        "job_id": record.job_id,
        "work_ref": record.work_ref,
        "started_at": record.started_at.isoformat(),
        "ended_at": record.ended_at.isoformat(),
        "gpu_seconds": record.gpu_seconds,
        "cost_cny": str(record.cost_cny),
        "received_at": record.received_at.isoformat(),
    }


@login_required
@require_GET
def receipt_download(request: HttpRequest, record_id: uuid.UUID) -> HttpResponse:
    """The receipt of one of the signed-in provider's records, as a JSON file."""
    receipt = record_receipt(own_provider(request), record_id)
    if receipt is None:
        raise Http404(_("没有这条记录"))
    response = HttpResponse(
        json.dumps(receipt, ensure_ascii=False, indent=2), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="receipt-{record_id}.json"'
    return response


@login_required
@require_GET
def records(request: HttpRequest) -> HttpResponse:
    """本方使用记录: the provider's accepted records, of one batch when ``?batch=`` names it."""
    provider = own_provider(request)
    batch = None
    batch_param = request.GET.get("batch", "")
    if batch_param.isdigit():
        batch = UsageBatch.objects.filter(pk=int(batch_param), provider=provider).first()
        if batch is None:
            raise Http404
    found = own_records(provider, batch_id=batch.pk if batch else None).select_related("node")
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "monitoring/records.html", {"provider": provider, "batch": batch, "page": page})
