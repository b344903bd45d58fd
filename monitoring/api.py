"""The provider API, mounted at ``/api/v1/usage/`` (docs/monitoring.md).

    POST /api/v1/usage/batches              Authorization: Bearer <provider token>
         {"records": [...]}  at most 5,000 records
      → {"results": [{"record_id", "status", "reason"?, "code"?, "leaf_index"?}], "checkpoint": "…"}
    GET  /api/v1/usage/receipts/{record_id}  the log receipt of one of the provider's records
    GET  /api/v1/usage/records?batch=&since=&until=&limit=&offset=  the provider's accepted records

The token resolves to its provider in one query (healthchecks' ``authorize``); there are no
cookies, so CSRF does not apply. The body is parsed here, not by a pydantic schema: the
record checks in ``monitoring.schemas`` give per-record Chinese reasons, and a batch with
bad records still accepts its good ones.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Router
from ninja.security import HttpBearer

from core.middleware import USAGE_BATCH_MAX_BYTES
from enterprises.models import Provider
from monitoring.actions import authenticate_token
from monitoring.ingest import record_usage_batch
from monitoring.models import ApiToken
from monitoring.records import MAX_API_LIMIT, own_records, record_json, record_receipt
from monitoring.schemas import MAX_BATCH_RECORDS, RECORD_FIELDS
from monitoring.usage_lines import MAX_LINES, record_usage_lines

# 5,000 records of about 700 bytes; anything far larger is not a batch of this API.
MAX_BODY_BYTES = USAGE_BATCH_MAX_BYTES


class ProviderToken(HttpBearer):
    """``Authorization: Bearer ydp_…`` → the live token (and its provider), or 401."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        return authenticate_token(token)


router = Router(auth=ProviderToken(), tags=["算力使用上报"])


def _json(status: int, body: Any) -> HttpResponse:
    return HttpResponse(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status=status,
        content_type="application/json; charset=utf-8",
    )


def _error(status: int, message: str) -> HttpResponse:
    return _json(status, {"detail": message})


def _provider(request: HttpRequest) -> tuple[ApiToken, Provider]:
    token: ApiToken = request.auth  # type: ignore[attr-defined]
    return token, token.provider


BATCH_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["records"],
                    "properties": {
                        "records": {
                            "type": "array",
                            "maxItems": MAX_BATCH_RECORDS,
                            "items": {
                                "type": "object",
                                "required": list(RECORD_FIELDS),
                                "properties": {name: {} for name in (*RECORD_FIELDS, "signature")},
                            },
                        }
                    },
                }
            }
        },
    }
}


@router.post("/batches", summary="上报一批算力使用记录", openapi_extra=BATCH_OPENAPI)
def post_batch(request: HttpRequest) -> HttpResponse:
    token, provider = _provider(request)
    if provider.status != Provider.Status.APPROVED:
        return _error(403, _("算力提供方尚未获批准或已停用，不能上报使用记录"))
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY_BYTES:
        return _error(413, _("请求过大：每批最多%(n)d条记录") % {"n": MAX_BATCH_RECORDS})
    try:
        data = json.loads(request.body)
    except RequestDataTooBig:
        return _error(413, _("请求过大：每批最多%(n)d条记录") % {"n": MAX_BATCH_RECORDS})
    except (ValueError, UnicodeDecodeError, RecursionError):
        return _error(400, _("请求体不是有效的JSON"))
    records = data.get("records") if isinstance(data, dict) else None
    if not isinstance(records, list):
        return _error(400, _('请求体须为 {"records": [...]}'))
    if len(records) > MAX_BATCH_RECORDS:
        return _error(
            413,
            _("每批最多%(max)d条记录，本批%(n)d条；请分批上报")
            % {"max": MAX_BATCH_RECORDS, "n": len(records)},
        )
    result = record_usage_batch(
        provider, records, actor_repr=f"provider:{provider.pk} token:{token.prefix}", request=request
    )
    return _json(200, result.as_dict())


@router.post("/lines", summary="上报用量行（模型服务、云资源、GPU 时长等各类用量）")
def post_lines(request: HttpRequest) -> HttpResponse:
    """Usage lines of every kind (docs/usage-formats.md); the GPU records of ``/batches`` are unchanged."""
    token, provider = _provider(request)
    if provider.status != Provider.Status.APPROVED:
        return _error(403, _("算力提供方尚未获批准或已停用，不能上报使用记录"))
    try:
        data = json.loads(request.body)
    except RequestDataTooBig:
        return _error(413, _("请求过大：每批最多%(n)d行") % {"n": MAX_LINES})
    except (ValueError, UnicodeDecodeError, RecursionError):
        return _error(400, _("请求体不是有效的JSON"))
    lines = data.get("lines") if isinstance(data, dict) else None
    if not isinstance(lines, list):
        return _error(400, _('请求体须为 {"lines": [...]}'))
    if len(lines) > MAX_LINES:
        return _error(413, _("每批最多%(max)d行，本批%(n)d行；请分批上报") % {"max": MAX_LINES, "n": len(lines)})
    result = record_usage_lines(
        provider, lines, actor_repr=f"provider:{provider.pk} token:{token.prefix}", request=request
    )
    return _json(200, result.as_dict())


@router.get("/receipts/{record_id}", summary="一条已接受记录的日志收据")
def get_receipt(request: HttpRequest, record_id: uuid.UUID) -> HttpResponse:
    """Leaf index, tree size, entry, inclusion path and checkpoint, verifiable offline with the platform key."""
    _token, provider = _provider(request)
    receipt = record_receipt(provider, record_id)
    if receipt is None:
        return _error(404, _("没有这条记录"))
    return _json(200, receipt)


@router.get("/records", summary="本方已接受的使用记录（按接收时间、批次）")
def list_records(
    request: HttpRequest,
    batch: int | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> HttpResponse:
    """The provider's accepted records received in ``[since, until)``, of one batch when ``batch``
    names it, oldest first: record id, batch, leaf index (for the receipt), node, job, times, cost."""
    _token, provider = _provider(request)
    if not 1 <= limit <= MAX_API_LIMIT or offset < 0:
        return _error(400, _("limit 须为 1 至 %(max)d，offset 不能为负数") % {"max": MAX_API_LIMIT})
    found = own_records(provider, batch_id=batch, since=since, until=until)
    total = found.count()
    rows = [record_json(record) for record in found[offset : offset + limit]]
    return _json(200, {"count": total, "offset": offset, "records": rows})
