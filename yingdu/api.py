"""The JSON API (django-ninja), mounted at /api/v1/; its OpenAPI schema is at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import HttpError, ValidationError

from core.apierrors import errors_body
from core.refusals import Refused

api = NinjaAPI(
    title="影都算力补助平台 API",
    version="1.0",
    urls_namespace="api",
    description="企业申报、算力使用上报与不可篡改日志的接口。",
)

# Routers are registered by prefix; each app keeps its own in <app>/api.py.
ROUTERS = [
    ("/ledger/", "ledger_web.api"),
    ("/usage/", "monitoring.api"),
    ("/applications/", "applications.api"),
    ("/audits/", "audits.api"),
    ("/policy/", "policy.api"),
    ("/reports/", "reports.api"),
]

for prefix, module_name in ROUTERS:
    module = __import__(module_name, fromlist=["router"])
    api.add_router(prefix, module.router)


_LOCATIONS = frozenset({"query", "path", "body", "form", "file", "header", "cookie"})


_LOCATIONS = frozenset({"query", "path", "body", "form", "file", "header", "cookie"})


def _message(error: dict[str, Any]) -> str:
    kind = str(error.get("type", ""))
    if kind == "missing":
        return _("此项为必填项")
    if kind.startswith(("int_", "integer")):
        return _("应为整数")
    if kind.startswith(("float_", "decimal_")):
        return _("应为数字")
    if kind.startswith("bool"):
        return _("应为 true 或 false")
    if kind.startswith(("date_", "datetime_")):
        return _("应为日期（YYYY-MM-DD）")
    if kind.startswith("string_too_long"):
        return _("内容过长")
    if kind.startswith(("string_", "str_")):
        return _("应为文字")
    return _("值无效")


@api.exception_handler(ValidationError)
def validation_errors(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    """Parameters that do not parse: 422 in the API's one error shape, ``{"errors": {field: [中文]}}``."""
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        loc = [str(part) for part in error.get("loc", ())]
        if loc and loc[0] in _LOCATIONS:
            loc = loc[1:]  # where the parameter was looked for, not its name
        errors.setdefault(loc[-1] if loc else "__all__", []).append(_message(error))
    return api.create_response(request, {"errors": errors}, status=422)


@api.exception_handler(HttpError)
def refusals(request: HttpRequest, exc: HttpError) -> HttpResponse:
    """A view's own refusal: a 422 in the same shape as above, any other status as ``{"detail": 中文}``."""
    if exc.status_code == 422:
        return api.create_response(request, errors_body(exc), status=422)
    return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)


@api.exception_handler(Refused)
def action_refusals(request: HttpRequest, exc: Refused) -> HttpResponse:
    """An action refused, at its status in the API's error shapes: ``{"errors": {field: [中文]}}``
    when it names fields or the input is incomplete (422), else ``{"detail": 中文}``."""
    if exc.names_fields() or exc.status == 422:
        return api.create_response(request, {"errors": exc.problems}, status=exc.status)
    return api.create_response(request, {"detail": exc.message}, status=exc.status)

