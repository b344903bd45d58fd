"""A text-message gateway on loopback for tests: a tiny HTTP server taking ``SMS_URL``'s JSON POSTs.

    with SmsGateway(fail_first=1) as gateway:
        settings.SMS_URL = gateway.url
        ...
        assert [m["phone"] for m in gateway.received] == ["13812345678"]

It answers 503 to the first ``fail_first`` requests (an outage: nothing is received), then 200.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class SmsGateway:
    def __init__(self, *, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.received: list[dict[str, Any]] = []
        self.refused = 0
        self._lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server hook's name
                length = min(int(self.headers.get("Content-Length") or 0), 10_000)
                body = self.rfile.read(length)
                with gateway._lock:
                    if gateway.refused < gateway.fail_first:
                        gateway.refused += 1
                        status = 503
                    else:
                        gateway.received.append(json.loads(body))
                        status = 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the hook's signature
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        self._thread = threading.Thread(target=self.server.serve_forever, name="sms-gateway", daemon=True)

    def __enter__(self) -> SmsGateway:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)
