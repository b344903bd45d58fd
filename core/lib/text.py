"""Text that the database and UTF-8 can hold: NUL, other control characters and lone surrogates.

PostgreSQL text cannot hold NUL, and a lone surrogate (``"\\ud800"`` in JSON) is not UTF-8, so
either fails the statement that stores it. Input is refused with :func:`has_unsafe_text`;
what must be kept anyway (a rejected record, a reason quoting a value) goes through
:func:`safe_text`, which writes those characters as escapes.
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls except tab, line feed and carriage return; DEL; the surrogate range.
UNSAFE_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def has_unsafe_text(value: str) -> bool:
    return UNSAFE_TEXT.search(value) is not None


def safe_text(value: str) -> str:
    """``value`` with unsafe characters written as ``\\uXXXX`` escapes: storable and showable."""
    if not UNSAFE_TEXT.search(value):
        return value
    return UNSAFE_TEXT.sub(lambda m: f"\\u{ord(m.group()):04x}", value)


def first_unsafe_key(value: Any, path: str = "", depth: int = 0) -> str | None:
    """Where a parsed JSON value holds unsafe text: its top-level key, ``__all__`` if none; ``None`` if nowhere."""
    if isinstance(value, str):
        return (path or "__all__") if has_unsafe_text(value) else None
    if depth > 64:
        return None
    items: Any = ()
    if isinstance(value, dict):
        for key, item in value.items():
            if has_unsafe_text(str(key)):
                return path or "__all__"
            found = first_unsafe_key(item, path or str(key), depth + 1)
            if found is not None:
                return found
    elif isinstance(value, list):
        items = value
    for item in items:
        found = first_unsafe_key(item, path, depth + 1)
        if found is not None:
            return found
    return None
