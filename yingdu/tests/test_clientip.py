from __future__ import annotations

from yingdu.lib.clientip import client_address


def test_it_uses_the_peer_address_without_trusted_proxies() -> None:
    meta = {"REMOTE_ADDR": "198.51.100.1", "HTTP_X_REAL_IP": "10.0.0.10", "HTTP_X_FORWARDED_FOR": "10.0.0.10"}
    assert client_address(meta, 0) == "198.51.100.1"


def test_it_takes_the_nth_forwarded_address_from_the_right() -> None:
    meta = {"REMOTE_ADDR": "10.0.0.3", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.7, 10.0.0.2"}
    assert client_address(meta, 1) == "10.0.0.2"
    assert client_address(meta, 2) == "203.0.113.7"


def test_it_falls_back_to_x_real_ip_then_the_peer() -> None:
    assert client_address({"REMOTE_ADDR": "10.0.0.3", "HTTP_X_REAL_IP": "203.0.113.7"}, 1) == "203.0.113.7"
    assert client_address({"REMOTE_ADDR": "10.0.0.3", "HTTP_X_REAL_IP": "not an address"}, 1) == "10.0.0.3"
    assert client_address({"REMOTE_ADDR": "10.0.0.3", "HTTP_X_FORWARDED_FOR": "junk"}, 1) == "10.0.0.3"


def test_it_answers_none_without_any_address() -> None:
    assert client_address({}, 0) is None
