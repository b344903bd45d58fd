"""The one audited download of a stored file: the audit event first, then the file
(docs/security.md: every download of an upload is logged with who, what and when)."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.http import FileResponse, HttpRequest

from core.uploads import stored_file_response
from ledger.actions import record_event


def audited_download(
    request: HttpRequest,
    action: str,
    *,
    obj: models.Model,
    path: str,
    content_type: str,
    filename: str,
    after: dict[str, Any] | None = None,
    enterprise_id: int | None = None,
    inline: bool = False,
) -> FileResponse:
    """Record ``action`` by the request's user on ``obj``, then serve the stored file at ``path``."""
    record_event(action, actor=request.user, obj=obj, after=after, request=request, enterprise_id=enterprise_id)
    return stored_file_response(path, content_type=content_type, filename=filename, inline=inline)
