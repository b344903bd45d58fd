"""A tiny platform stand-in for agent tests: records what it receives and answers by script."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[list[dict[str, Any]]], tuple[int, Any]]


def accept_all(records: list[dict[str, Any]]) -> tuple[int, Any]:
    return 200, {
        "results": [
            {"record_id": r["record_id"], "status": "accepted", "leaf_index": i}
            for i, r in enumerate(records)
        ],
        "checkpoint": "sink\n1\nAAAA\n",
    }


class Sink:
    def __init__(self, responder: Responder = accept_all) -> None:
        self.responder = responder
        self.batches: list[list[dict[str, Any]]] = []
        self.headers: list[dict[str, str]] = []
        self.lock = threading.Lock()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def records(self) -> list[dict[str, Any]]:
        return [r for batch in self.batches for r in batch]


@contextmanager
def running_sink(responder: Responder = accept_all) -> Iterator[Sink]:
    sink = Sink(responder)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length))
            records = body["records"]
            with sink.lock:
                sink.batches.append(records)
                sink.headers.append(dict(self.headers))
                status, answer = sink.responder(records)
            data = json.dumps(answer).encode() if not isinstance(answer, bytes) else answer
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sink.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
