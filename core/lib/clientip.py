"""The client's address behind a known number of reverse proxies (pure, no Django).

A header such as ``X-Real-IP`` or ``X-Forwarded-For`` is only as trustworthy as whoever
set it: a client that talks to the application directly can send any value. So the
headers are read only when the deployment says how many proxies of its own stand in
front of the application (``TRUSTED_PROXY_COUNT``); with none, the socket's peer
(``REMOTE_ADDR``) is the client. With ``n`` proxies, each appends the address it saw to
``X-Forwarded-For`` (nginx: ``proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for``),
so the ``n``-th entry from the right is the address the outermost trusted proxy saw; entries
further left came from the client and are ignored. That is the one rule: ``X-Real-IP`` is not
read, and a header with fewer entries than proxies (one of them did not append) is not trusted.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any


def _valid(value: str) -> str | None:
    value = value.strip()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def client_address(meta: Mapping[str, Any], trusted_proxy_count: int) -> str | None:
    """The client address from a WSGI ``META`` mapping, trusting ``trusted_proxy_count`` proxies."""
    remote = _valid(str(meta.get("REMOTE_ADDR") or ""))
    if trusted_proxy_count <= 0:
        return remote
    forwarded = [item for item in str(meta.get("HTTP_X_FORWARDED_FOR") or "").split(",") if item.strip()]
    if len(forwarded) < trusted_proxy_count:
        return remote  # a proxy of ours did not append: no entry can be told from the client's own
    return _valid(forwarded[-trusted_proxy_count]) or remote
