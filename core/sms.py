"""Text-message gateways, chosen by the ``SMS_URL`` setting (docs/sms.md).

- unset (the default): :class:`ConsoleBackend` writes each message to the log, number masked;
- ``http://…`` or ``https://…``: :class:`HttpBackend` POSTs ``{"phone": …, "text": …}`` as JSON to
  that address; any 2xx answer is a delivery, anything else (or no answer) raises
  :class:`SmsError`, and the background worker tries again.

Which messages are sent, and when, is ``review.sms``'s business.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Protocol

from django.conf import settings

from core.validators import mask_phone

logger = logging.getLogger(__name__)


class SmsError(Exception):
    """The gateway did not take the message."""


class Backend(Protocol):
    def send(self, phone: str, text: str) -> None: ...


class ConsoleBackend:
    """Development default: the message goes to the log, the number masked."""

    def send(self, phone: str, text: str) -> None:
        logger.info("SMS to %s: %s", mask_phone(phone), text)


class HttpBackend:
    """A gateway that takes one JSON POST per message."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout

    def send(self, phone: str, text: str) -> None:
        body = json.dumps({"phone": phone, "text": text}, ensure_ascii=False).encode()
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in backend()
            self.url, data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as exc:
            raise SmsError(f"HTTP {exc.code}") from exc
        except (OSError, ValueError) as exc:
            raise SmsError(str(exc) or type(exc).__name__) from exc
        if not 200 <= status < 300:
            raise SmsError(f"HTTP {status}")


def backend() -> Backend:
    """The gateway ``SMS_URL`` names (read at each send, so a test may point it elsewhere)."""
    url = settings.SMS_URL.strip()
    if not url:
        return ConsoleBackend()
    if not url.startswith(("http://", "https://")):
        raise SmsError("SMS_URL must start with http:// or https://")
    return HttpBackend(url, settings.SMS_TIMEOUT)
