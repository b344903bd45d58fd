"""The ledger entry of an audit event: canonical JSON (RFC 8785) of the event's fields."""

from __future__ import annotations

import datetime as dt
from typing import Any

import rfc8785

from ledger.models import AuditEvent

AUDIT_KIND = "audit_event"
_MAX_SAFE_INT = 2**53 - 1


def _jsonable(value: Any) -> Any:
    # JCS numbers are IEEE doubles; larger integers are written as strings, the same way
    # when the event is appended and when ``yingdu ledger verify`` re-reads it.
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int) and abs(value) > _MAX_SAFE_INT:
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def audit_entry_bytes(event: AuditEvent) -> bytes:
    """The exact bytes logged for ``event``; the same for the unsaved event and the row read back."""
    ip = AuditEvent._meta.get_field("ip").get_prep_value(event.ip) if event.ip else None
    doc = {
        "type": AUDIT_KIND,
        "created_at": event.created_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "action": event.action,
        "actor_id": event.actor_id,
        "actor_repr": event.actor_repr,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "object_repr": event.object_repr,
        "before": _jsonable(event.before),
        "after": _jsonable(event.after),
        "result": event.result,
        "ip": ip,
        "enterprise_id": event.enterprise_id_ref,
    }
    return rfc8785.dumps(doc)
