from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django.test import override_settings
from django.urls import reverse

from core.lib.clientip import client_address
from ledger.models import AuditEvent
from testing.fixtures import BaseTestCase


def test_it_uses_the_peer_address_without_trusted_proxies() -> None:
    meta = {"REMOTE_ADDR": "198.51.100.1", "HTTP_X_REAL_IP": "10.0.0.10", "HTTP_X_FORWARDED_FOR": "10.0.0.10"}
    assert client_address(meta, 0) == "198.51.100.1"


def test_it_takes_the_nth_forwarded_address_from_the_right() -> None:
    meta = {"REMOTE_ADDR": "10.0.0.3", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.7, 10.0.0.2"}
    assert client_address(meta, 1) == "10.0.0.2"
    assert client_address(meta, 2) == "203.0.113.7"


def test_it_reads_no_x_real_ip_and_falls_back_to_the_peer() -> None:
    assert client_address({"REMOTE_ADDR": "10.0.0.3", "HTTP_X_REAL_IP": "203.0.113.7"}, 1) == "10.0.0.3"
    assert client_address({"REMOTE_ADDR": "10.0.0.3", "HTTP_X_FORWARDED_FOR": "junk"}, 1) == "10.0.0.3"
    # Two proxies configured, one entry: a proxy did not append, so none is trusted.
    assert client_address({"REMOTE_ADDR": "10.0.0.3", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}, 2) == "10.0.0.3"


def test_it_answers_none_without_any_address() -> None:
    assert client_address({}, 0) is None


# --- behind the documented proxy -------------------------------------------------------------------

README = Path(__file__).resolve().parents[2] / "README.md"
PROXY = "10.0.0.2"  # the documented nginx, the app server's peer
CLIENT = "203.0.113.7"
SPOOFED = "6.6.6.6"


def documented_proxy_headers() -> dict[str, str]:
    """The ``proxy_set_header`` lines of the README's nginx block, name to value."""
    block = README.read_text(encoding="utf-8").split("```nginx", 1)[1].split("```", 1)[0]
    return dict(re.findall(r"proxy_set_header\s+(\S+)\s+(\S+);", block))


def as_the_documented_proxy_sends(client_headers: dict[str, str]) -> dict[str, Any]:
    """The WSGI headers a request from ``CLIENT`` carries after the documented nginx: the client's
    own headers, with each one the block sets replaced as nginx replaces it."""
    meta: dict[str, Any] = {"REMOTE_ADDR": PROXY}
    meta.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in client_headers.items()})
    variables = {"$remote_addr": CLIENT, "$host": "testserver"}
    incoming = client_headers.get("X-Forwarded-For")
    variables["$proxy_add_x_forwarded_for"] = f"{incoming}, {CLIENT}" if incoming else CLIENT
    for name, value in documented_proxy_headers().items():
        meta["HTTP_" + name.upper().replace("-", "_")] = variables.get(value, value)
    return meta


def test_the_documented_proxy_appends_to_x_forwarded_for() -> None:
    assert documented_proxy_headers()["X-Forwarded-For"] == "$proxy_add_x_forwarded_for"


@override_settings(TRUSTED_PROXY_COUNT=1)
class SpoofedForwardedForTests(BaseTestCase):
    spoof = {"X-Forwarded-For": SPOOFED, "X-Real-IP": SPOOFED}

    def test_a_spoofed_x_forwarded_for_does_not_change_the_audited_login_address(self) -> None:
        meta = as_the_documented_proxy_sends(self.spoof)
        self.client.post(reverse("accounts:login"), {"username": "alice", "password": "wrong"}, **meta)
        self.assertEqual(AuditEvent.objects.get(action="auth.login_failed").ip, CLIENT)

    def test_a_spoofed_x_forwarded_for_does_not_bypass_the_progress_query_limit(self) -> None:
        url = reverse("progress_query")
        with self.settings(PROGRESS_QUERY_LIMIT=3):
            answers = [
                self.client.post(
                    url,
                    {"reference": f"YD2026-{900000 + n}", "uscc": self.enterprise.uscc},
                    **as_the_documented_proxy_sends({"X-Forwarded-For": f"192.0.2.{n}"}),
                ).status_code
                for n in range(6)
            ]
        self.assertEqual(answers[3:], [429, 429, 429])
        ips = set(AuditEvent.objects.filter(action="review.progress_query").values_list("ip", flat=True))
        self.assertEqual(ips, {CLIENT})
