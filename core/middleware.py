from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from importlib import import_module
from itertools import accumulate, count
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.http import parse_header_parameters
from django.utils.translation import gettext as _

from core.lib.text import first_unsafe_key

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
# The most a batch of usage records may weigh (5,000 records with their signatures fit easily).
USAGE_BATCH_MAX_BYTES = 16 * 1024 * 1024
# The most any other JSON request of the API may weigh: its forms are a few kilobytes.
API_JSON_MAX_BYTES = 1024 * 1024
# A form posted to a page (no files); Django's own default.
FORM_MAX_BYTES = 2_621_440
# Room for a multipart body's field parts and boundaries beside its files.
MULTIPART_OVERHEAD_BYTES = 1024 * 1024
# A page's form may carry several files (attachments, supplement items); the API takes one at a time.
PAGE_UPLOAD_FILES = 10
_SCAN_CHUNK = 64 * 1024
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
# An opening bracket counts 2 and a closing one 0: the running sum less the count is the depth.
_STEPS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")
# A backslash and the byte it escapes (only strings hold backslashes in JSON).
_ESCAPE = re.compile(rb"\\.", re.DOTALL)


class JsonDepthScan:
    """The nesting depth of a JSON text, fed in chunks: linear in time, constant in memory.

    In each chunk the escapes are removed first (one substitution), so every quote left opens or
    closes a string; splitting at the quotes leaves the text outside strings at every other place.
    The state carried from chunk to chunk is whether a string is open and whether a backslash
    escapes the next chunk's first byte; the depth of what lies outside strings is summed by
    C-level iterators. Nothing holds more than a chunk.
    """

    def __init__(self, limit: int = MAX_JSON_DEPTH) -> None:
        self.limit = limit
        self.depth = 0
        self.too_deep = False
        self._in_string = False
        self._escaped = False

    def feed(self, chunk: bytes) -> bool:
        """Scan the next chunk; True once the text went deeper than the limit."""
        if self.too_deep or not chunk:
            return self.too_deep
        if self._escaped:
            chunk, self._escaped = chunk[1:], False
        plain = _ESCAPE.sub(b"", chunk)
        if plain.endswith(b"\\"):  # a backslash whose escaped byte is in the next chunk
            plain, self._escaped = plain[:-1], True
        parts = plain.split(b'"')
        outside = b"".join(parts[1 if self._in_string else 0 :: 2])
        if len(parts) % 2 == 0:
            self._in_string = not self._in_string
        self._count(outside.translate(None, _NOT_BRACKETS))
        return self.too_deep

    def _count(self, brackets: bytes) -> None:
        opening = brackets.count(b"[") + brackets.count(b"{")
        if self.depth + opening > self.limit:
            steps = brackets.translate(_STEPS)
            deepest = max(map(operator.sub, accumulate(steps), count(1)), default=0)
            self.too_deep = self.depth + deepest > self.limit
        self.depth += 2 * opening - len(brackets)


def json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``body`` nests deeper than ``limit``, scanned in fixed-size chunks."""
    scan = JsonDepthScan(limit)
    view = memoryview(body)
    for start in range(0, len(view), _SCAN_CHUNK):
        if scan.feed(bytes(view[start : start + _SCAN_CHUNK])):
            return True
    return False


def body_limit(path: str, content_type: str) -> int:
    """The most bytes a request body to ``path`` may carry, decided before any of it is read."""
    api = path.startswith("/api/")
    if content_type == "multipart/form-data":
        files = 1 if api else PAGE_UPLOAD_FILES
        return files * settings.UPLOAD_MAX_BYTES + MULTIPART_OVERHEAD_BYTES
    if path.startswith(PER_RECORD_PATHS):
        return USAGE_BATCH_MAX_BYTES
    return API_JSON_MAX_BYTES if api else FORM_MAX_BYTES


def may_be_authenticated(request: HttpRequest) -> bool:
    """Whether a request carries credentials worth reading its body for: a bearer token, or a
    session cookie whose session holds a signed-in user (one look-up, before anything is parsed)."""
    if request.META.get("HTTP_AUTHORIZATION", "").strip():
        return True
    key = request.COOKIES.get(settings.SESSION_COOKIE_NAME, "")
    if not key or len(key) > 64 or not key.isalnum():
        return False
    store = import_module(settings.SESSION_ENGINE).SessionStore(key)
    return bool(store.get("_auth_user_id"))


def _api_error(status: int, body: dict[str, Any]) -> HttpResponse:
    return HttpResponse(
        json.dumps(body, ensure_ascii=False), status=status, content_type="application/json; charset=utf-8"
    )


def _refusal(api: bool, status: int, message: str) -> HttpResponse:
    if api:
        return _api_error(status, {"detail": message})
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


class ApiInputLimitsMiddleware:
    """Bounds what a request may hold before anything reads or parses its body.

    Every body is held to its route's limit (:func:`body_limit`) by its Content-Length, before a
    byte of it is read; a body sent without one is refused (Django would read none of it). An API
    request with a body and no credentials is answered 401 unread: no API route takes a body from
    anyone anonymous. Then, for the API: a multipart body without a valid boundary and JSON nested
    deeper than :data:`MAX_JSON_DEPTH` are answered 400; text holding NUL or lone surrogates
    (which the database cannot store) is answered 422 in the API's error shape, naming the field.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        api = request.path.startswith("/api/")
        refused = self.bound(request, api)
        if refused is None and api:
            refused = self.refuse(request)
        if refused is not None:
            return refused
        return self.get_response(request)

    def bound(self, request: HttpRequest, api: bool) -> HttpResponse | None:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _refusal(api, 400, _("请求头 Content-Length 无效"))
        if length < 0:
            return _refusal(api, 400, _("请求头 Content-Length 无效"))
        if not length:
            if request.META.get("HTTP_TRANSFER_ENCODING"):
                return _refusal(api, 411, _("请求须注明内容长度（Content-Length）"))
            return None
        if api and not may_be_authenticated(request):
            return _refusal(api, 401, _("请先登录，或在请求头中提供有效的访问令牌"))
        content_type, _params = parse_header_parameters(request.META.get("CONTENT_TYPE", ""))
        limit = body_limit(request.path, content_type)
        if length > limit:
            return _refusal(api, 413, _("请求过大：此处最多接受 %(mb)s MB") % {"mb": f"{limit / 2**20:,.1f}"})
        return None

    def refuse(self, request: HttpRequest) -> HttpResponse | None:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        content_type, params = parse_header_parameters(request.META.get("CONTENT_TYPE", ""))
        if content_type == "multipart/form-data":
            boundary = params.get("boundary", "")
            if not boundary or len(boundary) > 70 or not boundary.isascii():
                return _api_error(400, {"detail": _("上传请求的格式无效：缺少有效的分段分隔符")})
            return None
        if not length or not (content_type == "application/json" or content_type.endswith("+json")):
            return None
        body = request.body
        if json_too_deep(body):
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
