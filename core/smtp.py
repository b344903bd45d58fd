"""A real SMTP server on loopback for tests: ``aiosmtpd`` collecting the messages it receives.

Use the ``smtp_server`` fixture; it starts the server on a free port of 127.0.0.1 and points
Django's SMTP backend at it for the test::

    def test_it_mails(smtp_server: SmtpSink) -> None:
        ...
        message = smtp_server.wait_for(lambda m: "已受理" in m.subject)
        assert message.to == ["lisi@example.cn"]
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest


@dataclass(frozen=True)
class ReceivedMail:
    """One message as the server received it, decoded."""

    envelope_from: str
    envelope_to: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["subject"] or "")

    @property
    def to(self) -> list[str]:
        return list(self.envelope_to)

    @property
    def body(self) -> str:
        part = self.message.get_body(preferencelist=("plain", "html"))
        return part.get_content() if part is not None else ""


class SmtpSink:
    """The handler of the aiosmtpd controller: keeps every message, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[ReceivedMail] = []
        self.host = "127.0.0.1"
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self._messages.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._messages)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()

    def wait_for(self, predicate: Callable[[ReceivedMail], bool], timeout: float = 10.0) -> ReceivedMail:
        """The first message matching ``predicate``, waiting up to ``timeout`` seconds for it."""
        deadline = time.monotonic() + timeout
        while True:
            for message in self.messages:
                if predicate(message):
                    return message
            if time.monotonic() > deadline:
                subjects = [m.subject for m in self.messages]
                raise AssertionError(f"no matching e-mail within {timeout}s; received: {subjects}")
            time.sleep(0.05)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving_smtp() -> Iterator[SmtpSink]:
    """An SMTP server on a free port of 127.0.0.1 while the block runs."""
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    sink.port = free_port()
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[SmtpSink]:
    """An SMTP server on 127.0.0.1 for one test, with Django's e-mail settings pointed at it."""
    with serving_smtp() as sink:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = sink.host
        settings.EMAIL_PORT = sink.port
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = 5
        yield sink
