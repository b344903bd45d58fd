"""``yingdu-witness``: run a witness, print its key, verify a tlog-proof offline.

- ``yingdu-witness serve --state DIR --name NAME --log VKEY [--log VKEY …] [--listen 127.0.0.1:7380]``
  starts the witness; the key ``DIR/witness.key`` is created on first start (mode 0600) and
  the state lives in ``DIR/witness.sqlite3``.
- ``yingdu-witness key --state DIR --name NAME`` creates the key if needed and prints the
  verifier key to publish in the log's policy.
- ``yingdu-witness verify-proof FILE --log-key VKEY --policy FILE [--entry FILE]`` checks a
  ``.tlog-proof`` file with no network (see :mod:`witness.proofs`).
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path

from witness.notes import (
    ALG_COSIGNATURE_V1,
    FormatError,
    PrivateKey,
    generate_key,
    parse_private_key,
    parse_vkey,
)
from witness.server import Witness, logs_from_keys, make_server
from witness.state import State

KEY_FILE = "witness.key"
STATE_FILE = "witness.sqlite3"
DEFAULT_LISTEN = "127.0.0.1:7380"


def load_or_create_key(path: Path, name: str) -> PrivateKey:
    """The witness's cosigning key; created with mode 0600 on first use."""
    if path.exists():
        key = parse_private_key(path.read_text(encoding="ascii"))
        if key.alg != ALG_COSIGNATURE_V1:
            raise FormatError("the witness key is not a cosignature/v1 key")
        if name and key.name != name:
            raise FormatError(f"the key in {path} is named {key.name!r}, not {name!r}")
        return key
    if not name:
        raise FormatError("a new witness needs --name")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate_key(name)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(key.text + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return load_or_create_key(path, name)
    finally:
        tmp.unlink(missing_ok=True)
    return key


def _listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError("listen address must be HOST:PORT")
    return host.strip("[]"), int(port)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="yingdu-witness", description="transparency-log witness (C2SP tlog-witness)"
    )
    sub = parser.add_subparsers(dest="verb", required=True)
    serve = sub.add_parser("serve", help="run the witness")
    serve.add_argument("--state", required=True, type=Path, help="directory for the key and the state")
    serve.add_argument("--name", default="", help="the witness's key name (needed on first start)")
    serve.add_argument("--log", action="append", required=True, help="a log's verifier key (repeatable)")
    serve.add_argument("--log-hash", default="sha256", choices=("sha256", "sm3"))
    serve.add_argument("--listen", type=_listen, default=DEFAULT_LISTEN)
    serve.add_argument("--prefix", default="", help="URL prefix before /add-checkpoint")
    key = sub.add_parser("key", help="create the key if needed and print the verifier key")
    key.add_argument("--state", required=True, type=Path)
    key.add_argument("--name", default="")
    proof = sub.add_parser("verify-proof", help="verify a .tlog-proof file offline")
    proof.add_argument("file", type=Path)
    proof.add_argument("--log-key", required=True, action="append")
    proof.add_argument("--policy", required=True, type=Path)
    proof.add_argument("--entry", type=Path, help="the entry's bytes, if the proof carries no extra data")
    proof.add_argument("--hash", default="sha256", choices=("sha256", "sm3"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.verb == "key":
            print(load_or_create_key(args.state / KEY_FILE, args.name).vkey)
            return 0
        if args.verb == "verify-proof":
            from witness.proofs import run_verify_proof

            return run_verify_proof(args.file, args.log_key, args.policy, args.entry, args.hash, sys.stdout)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        key = load_or_create_key(args.state / KEY_FILE, args.name)
        logs = logs_from_keys([parse_vkey(v, 0x01) for v in args.log], args.log_hash)
        state = State(args.state / STATE_FILE)
    except (FormatError, OSError) as exc:
        print(f"yingdu-witness: {exc}", file=sys.stderr)
        return 2
    host, port = args.listen
    server = make_server(Witness(key, state, logs, args.prefix), host, port)
    # The bound port (0 picks a free one) and the key, for whoever started us.
    print(f"listening {host}:{server.server_address[1]} {key.vkey}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
