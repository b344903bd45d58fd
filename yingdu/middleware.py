from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.http import parse_header_parameters
from django.utils.translation import gettext as _

from yingdu.lib.text import first_unsafe_key

# Scripts and styles are served from /static/ only; no inline script is allowed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


class SecurityHeadersMiddleware:
    """Adds the Content-Security-Policy and Permissions-Policy headers to every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        return response


# JSON deeper than this is no request of this API; Python's parser would recurse into it.
MAX_JSON_DEPTH = 32
# Bodies the API reads record by record itself (a bad value is one record's rejection).
PER_RECORD_PATHS = ("/api/v1/usage/batches",)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def json_depth(body: bytes) -> int:
    """The nesting depth of a JSON text, counted without parsing it (brackets inside strings skipped)."""
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for byte in brackets:
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _api_error(status: int, body: dict[str, Any]) -> HttpResponse:
    return HttpResponse(
        json.dumps(body, ensure_ascii=False), status=status, content_type="application/json; charset=utf-8"
    )


class ApiInputLimitsMiddleware:
    """Bounds what an API request may hold before anything parses it.

    A Content-Length that is not a number, a multipart body without a valid boundary, JSON nested
    deeper than :data:`MAX_JSON_DEPTH` are answered 400; text holding NUL or lone surrogates
    (which the database cannot store) is answered 422 in the API's error shape, naming the field.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            refused = self.refuse(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    def refuse(self, request: HttpRequest) -> HttpResponse | None:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _api_error(400, {"detail": _("请求头 Content-Length 无效")})
        if length < 0:
            return _api_error(400, {"detail": _("请求头 Content-Length 无效")})
        content_type, params = parse_header_parameters(request.META.get("CONTENT_TYPE", ""))
        if content_type == "multipart/form-data":
            boundary = params.get("boundary", "")
            if not boundary or len(boundary) > 70 or not boundary.isascii():
                return _api_error(400, {"detail": _("上传请求的格式无效：缺少有效的分段分隔符")})
            return None
        if not length or not (content_type == "application/json" or content_type.endswith("+json")):
            return None
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return None  # Django refuses it when the body is read
        body = request.body
        if json_depth(body) > MAX_JSON_DEPTH:
            return _api_error(400, {"detail": _("JSON 嵌套层数超过 %(n)d 层") % {"n": MAX_JSON_DEPTH}})
        if request.path.startswith(PER_RECORD_PATHS):
            return None
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return None  # the endpoint says why it cannot use the body
        field = first_unsafe_key(data)
        if field is not None:
            return _api_error(
                422, {"errors": {field: [_("含有不允许的字符（控制字符或无效的 Unicode 字符）")]}}
            )
        return None
