"""The witness's HTTP interface: ``POST <prefix>/add-checkpoint`` (C2SP tlog-witness).

Request body: ``old <size>``, up to 63 base64 consistency-proof lines, an empty line, then the
signed checkpoint. Answers, in the order the specification checks them:

- 404 the checkpoint's origin is not a configured log;
- 403 no signature by a configured key of that log verifies (signatures by other keys are ignored);
- 400 a malformed request, or ``old`` larger than the checkpoint's size;
- 409 ``old`` is not the size the witness stored (body: the stored size and a newline,
  ``Content-Type: text/x.tlog.size``), or the same size with another root hash;
- 422 the consistency proof does not verify;
- 200 one ``cosignature/v1`` signature line, after the new checkpoint is stored.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from witness.merkle import HASH_SIZE
from witness.notes import (
    FormatError,
    PrivateKey,
    VerifierKey,
    b64decode,
    log_signed,
    parse_checkpoint,
    parse_note,
    parse_size,
)
from witness.state import State, Verdict

logger = logging.getLogger("witness")

MAX_BODY = 64 * 1024
MAX_PROOF_LINES = 63
SIZE_CONTENT_TYPE = "text/x.tlog.size"
# Crash tests only: when this variable is "1" the process kills itself with SIGKILL right after
# a new checkpoint is stored and before it is cosigned (the worst moment to die).
KILL_AFTER_PERSIST_ENV = "YINGDU_WITNESS_TEST_KILL_AFTER_PERSIST"


@dataclass(frozen=True)
class LogConfig:
    origin: str
    keys: tuple[VerifierKey, ...]
    hash_alg: str = "sha256"


@dataclass
class Witness:
    key: PrivateKey
    state: State
    logs: dict[str, LogConfig]
    prefix: str = ""
    clock: Callable[[], float] = time.time


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Request:
    old: int
    proof: tuple[bytes, ...]
    note: str


def parse_request(body: bytes) -> Request:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError("request is not UTF-8") from exc
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise FormatError("no empty line before the checkpoint")
    lines = head.split("\n")
    if not lines[0].startswith("old "):
        raise FormatError("the first line must be 'old <size>'")
    old = parse_size(lines[0][4:])
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise FormatError("too many consistency proof lines")
    proof = tuple(b64decode(line) for line in lines[1:])
    if any(len(p) != HASH_SIZE for p in proof):
        raise FormatError("a consistency proof hash is not 32 bytes")
    return Request(old, proof, note)


def add_checkpoint(witness: Witness, body: bytes) -> Answer:
    """Answer one add-checkpoint request (pure apart from the state it updates)."""
    try:
        request = parse_request(body)
        text, signatures = parse_note(request.note)
        checkpoint = parse_checkpoint(text)
    except FormatError as exc:
        return Answer(HTTPStatus.BAD_REQUEST, f"malformed request: {exc}\n")
    log = witness.logs.get(checkpoint.origin)
    if log is None:
        return Answer(HTTPStatus.NOT_FOUND, "unknown log origin\n")
    if not log_signed(text, signatures, list(log.keys)):
        return Answer(HTTPStatus.FORBIDDEN, "no valid signature by a known log key\n")
    if request.old > checkpoint.size:
        return Answer(HTTPStatus.BAD_REQUEST, "old size is larger than the checkpoint size\n")
    outcome = witness.state.advance(
        request.old, request.proof, checkpoint, log.hash_alg, body.decode("utf-8", "replace")
    )
    if outcome.verdict is Verdict.CONFLICT:
        return Answer(HTTPStatus.CONFLICT, f"{outcome.stored_size}\n", SIZE_CONTENT_TYPE)
    if outcome.verdict is Verdict.BAD_PROOF:
        return Answer(HTTPStatus.UNPROCESSABLE_ENTITY, "consistency proof does not verify\n")
    if os.environ.get(KILL_AFTER_PERSIST_ENV) == "1":
        os.kill(os.getpid(), signal.SIGKILL)
    return Answer(HTTPStatus.OK, witness.key.cosign(text, int(witness.clock())))


def make_handler(witness: Witness) -> type[BaseHTTPRequestHandler]:
    endpoint = witness.prefix.rstrip("/") + "/add-checkpoint"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "yingdu-witness"
        timeout = 30  # seconds a client may take to send its request

        def _send(self, answer: Answer) -> None:
            data = answer.body.encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            if self.path.split("?", 1)[0] != endpoint:
                self._send(Answer(HTTPStatus.NOT_FOUND, "not found\n"))
                return
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                self._send(Answer(HTTPStatus.LENGTH_REQUIRED, "Content-Length required\n"))
                return
            if not 0 <= length <= MAX_BODY:
                self.close_connection = True
                self._send(Answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request too large\n"))
                return
            body = self.rfile.read(length)
            try:
                answer = add_checkpoint(witness, body)
            except Exception:  # a storage failure must answer, and must not cosign
                logger.exception("add-checkpoint failed")
                answer = Answer(HTTPStatus.SERVICE_UNAVAILABLE, "witness unavailable\n")
            self._send(answer)

        def do_GET(self) -> None:  # noqa: N802
            self._send(Answer(HTTPStatus.METHOD_NOT_ALLOWED, "use POST\n"))

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature of the base class
            logger.info("%s %s", self.address_string(), format % args)

    return Handler


def make_server(witness: Witness, host: str, port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), make_handler(witness))
    server.daemon_threads = True
    return server


def logs_from_keys(vkeys: Sequence[VerifierKey], hash_alg: str = "sha256") -> dict[str, LogConfig]:
    """Logs by origin: a log key's name is its origin (tlog-policy), several keys may share one."""
    by_origin: dict[str, list[VerifierKey]] = {}
    for key in vkeys:
        by_origin.setdefault(key.name, []).append(key)
    return {origin: LogConfig(origin, tuple(keys), hash_alg) for origin, keys in by_origin.items()}
