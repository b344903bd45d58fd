"""Delivering spooled records to the platform: ``POST {server}/api/v1/usage/batches``.

Only what the platform answered for is removed from the spool: ``accepted`` and
``duplicate`` (already in the log, e.g. the answer to an earlier send was lost) are
acknowledged; ``rejected`` records move to ``rejected/`` with the reason and are never
sent again. Anything else (no answer, a 5xx, a timeout, a record missing from the answer)
stays pending and is retried with exponential backoff and jitter, capped, for as long as
the agent runs. Since ingestion is idempotent on ``record_id``, resending is always safe.
"""

from __future__ import annotations

import json
import logging
import random
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent import __version__
from agent.spool import Spool, SpoolEntry

log = logging.getLogger("yingdu.agent")

BATCH_PATH = "/api/v1/usage/batches"
MAX_BATCH = 5000
USER_AGENT = f"yingdu-agent/{__version__}"


class TransientError(Exception):
    """The platform could not be reached or answered with a retryable status."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class PassResult:
    """What one pass over the spool achieved."""

    acked: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.errors)


class Backoff:
    """Exponential backoff with jitter: the n-th consecutive failure waits about base × 2ⁿ, at most ``cap``.

    "Equal jitter" (half fixed, half random) spreads the agents of a cluster after a
    platform outage without ever retrying immediately.
    """

    def __init__(self, base: float = 1.0, cap: float = 300.0, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self.failures = 0
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not a secret

    def next_delay(self, retry_after: float | None = None) -> float:
        ceiling = min(self.cap, self.base * (2**self.failures))
        self.failures += 1
        delay: float = ceiling / 2 + self.rng.uniform(0, ceiling / 2)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.cap))
        return delay

    def reset(self) -> None:
        self.failures = 0


class Sender:
    def __init__(
        self,
        spool: Spool,
        server: str,
        token: str,
        *,
        batch_size: int = 1000,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        if not server.startswith(("http://", "https://")):
            raise ValueError("server must be an http:// or https:// URL")
        self.spool = spool
        self.url = server.rstrip("/") + BATCH_PATH
        self.token = token
        self.batch_size = max(1, min(batch_size, MAX_BATCH))
        self.timeout = timeout
        self.ssl_context = ssl_context
        self.backoff = backoff or Backoff()
        self.last_checkpoint: str | None = None
        self._retry_after: float | None = None
        # Told the outcome of every pass (the metrics count acknowledgements and failures).
        self.on_pass: Callable[[PassResult], None] | None = None

    # -- one HTTP exchange -------------------------------------------------------------------

    def post(self, entries: list[SpoolEntry]) -> tuple[int, dict[str, Any] | str]:
        """POST one batch; returns (status, parsed JSON or text). Raises ``TransientError``."""
        body = json.dumps({"records": [e.record for e in entries]}, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(  # noqa: S310 - the URL scheme is checked in __init__
            self.url,
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json; charset=utf-8",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self.ssl_context) as response:  # noqa: S310
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
            if status == 429 or status >= 500:
                raise TransientError(f"HTTP {status}", _retry_after(exc.headers.get("Retry-After"))) from exc
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise TransientError(f"cannot reach {self.url}: {getattr(exc, 'reason', exc)}") from exc
        text = raw.decode("utf-8", "replace")
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    # -- passes ------------------------------------------------------------------------------

    def send_pending(self) -> PassResult:
        """Send every pending record once, in batches; stop at the first transient failure."""
        result = PassResult()
        batch_size = self.batch_size
        while True:
            entries = self.spool.pending(limit=batch_size)
            if not entries:
                return result
            try:
                status, answer = self.post(entries)
            except TransientError as exc:
                result.errors.append(str(exc))
                self._retry_after = exc.retry_after
                return result
            if status == 200 and isinstance(answer, dict):
                self._apply(entries, answer, result)
                if result.failed:
                    self._retry_after = None
                    return result
                continue
            if status == 413 and batch_size > 1:
                batch_size = max(1, batch_size // 2)
                continue
            if status in (400, 422):
                if len(entries) > 1:
                    # Find the record the platform cannot parse by halving the batch.
                    batch_size = max(1, len(entries) // 2)
                    continue
                self.spool.reject(entries[0], f"HTTP {status}: {_detail(answer)}")
                result.rejected += 1
                continue
            # 401/403 and anything unexpected: keep everything and retry later.
            result.errors.append(f"HTTP {status}: {_detail(answer)}")
            self._retry_after = None
            return result

    def _apply(self, entries: list[SpoolEntry], answer: dict[str, Any], result: PassResult) -> None:
        by_id = {entry.record_id: entry for entry in entries}
        acked: list[SpoolEntry] = []
        for item in answer.get("results", []):
            if not isinstance(item, dict):
                continue
            entry = by_id.pop(str(item.get("record_id")), None)
            if entry is None:
                continue
            status = item.get("status")
            if status in ("accepted", "duplicate"):
                acked.append(entry)
            elif status == "rejected":
                self.spool.reject(entry, str(item.get("reason") or "rejected"))
                result.rejected += 1
                log.warning("record %s rejected: %s", entry.record_id, item.get("reason"))
        result.acked += self.spool.ack(acked)
        if isinstance(answer.get("checkpoint"), str):
            self.last_checkpoint = answer["checkpoint"]
        if by_id:
            # Records the answer did not mention stay pending; a later pass resends them.
            log.warning("%d records missing from the answer; they stay in the spool", len(by_id))
            result.errors.append("incomplete answer")

    # -- the background loop -----------------------------------------------------------------

    def run(
        self,
        stop: threading.Event,
        wake: threading.Event,
        *,
        poll: float = 5.0,
        finished: Callable[[], bool] = lambda: False,
    ) -> None:
        """Send whenever records arrive (``wake``) or every ``poll`` seconds, backing off after failures.

        Returns when ``stop`` is set, or when ``finished()`` says no more records will come
        and the spool is empty.
        """
        delay = 0.0
        while not stop.is_set():
            if delay > 0 and stop.wait(delay):
                return
            result = self.send_pending()
            if self.on_pass is not None:
                self.on_pass(result)
            if result.failed:
                delay = self.backoff.next_delay(self._retry_after)
                log.warning("send failed (%s); retrying in %.1f s", "; ".join(result.errors), delay)
                continue
            self.backoff.reset()
            delay = 0.0
            if finished() and self.spool.pending_count() == 0:
                return
            wake.wait(poll)
            wake.clear()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _detail(answer: dict[str, Any] | str) -> str:
    if isinstance(answer, dict):
        return str(answer.get("detail") or answer.get("message") or answer)[:500]
    return answer[:500]
