"""Benchmark of the production stack: usage batches through two app servers at once.

    make bench                                     # starts PostgreSQL and Redis, runs every bench/
    DATABASE_URL=postgres://… REDIS_URL=redis://… .venv/bin/python bench/stack.py --batches 40

Sets up the stack the production-stack test uses (``yingdu/tests/stack.py``: a scratch database,
the README's recipe, two gunicorn servers with production settings, one background worker), then
sends signed batches of 1,000 records through both servers, two agents per server, and prints the
records accepted per second through both servers and the 99th percentile of the batch latency
(request to answer). Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from agent.signing import public_key_b64  # noqa: E402
from yingdu.tests.stack import Stack, count, ingest_through, make_records  # noqa: E402

BATCH = 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=30, help="batches of 1,000 records (default 30)")
    parser.add_argument("--clients", type=int, default=2, help="agents per server (default 2)")
    args = parser.parse_args()
    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")) or not redis_url:
        print(
            "bench/stack.py needs DATABASE_URL=postgres://… and REDIS_URL (make bench starts both)",
            file=sys.stderr,
        )
        return 2
    key = Ed25519PrivateKey.generate()
    records = make_records(key, (args.batches + 2) * BATCH, "bench-node")
    warmup = [records[i : i + BATCH // 2] for i in range(0, 2 * BATCH, BATCH // 2)]
    batches = [records[i : i + BATCH] for i in range(2 * BATCH, len(records), BATCH)]
    stack = Stack(database_url, redis_url, "console://")
    try:
        stack.install()
        facts = stack.python(
            "import json; from yingdu.tests.stack import seed; "
            f"print(json.dumps(seed({public_key_b64(key)!r}, node_id='bench-node')))"
        )
        servers = stack.start_servers(2)
        stack.start_worker()
        ports = [s.port for s in servers]
        ingest_through(ports, facts["token"], warmup, clients_per_server=2)  # imports, keys, connections
        run = ingest_through(ports, facts["token"], batches, clients_per_server=args.clients)
    finally:
        stack.stop(show_logs=False)
    accepted = sum(count(a, "accepted") for a in run.answers)
    if accepted != len(batches) * BATCH:
        print(f"only {accepted} of {len(batches) * BATCH} records were accepted", file=sys.stderr)
        return 1
    print(
        f"gunicorn 2 servers × 2 workers, {args.clients} agents per server, PostgreSQL, Redis, production settings"
    )
    print(f"through both servers: {run.per_second:10,.0f} records/s")
    print(f"p99 batch latency:    {run.p99 * 1000:10,.0f} ms   (batches of {BATCH:,})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
