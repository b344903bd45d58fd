"""Benchmark of the production stack: usage batches through two app servers at once.

    make bench                                     # starts PostgreSQL and Redis, runs every bench/
    DATABASE_URL=postgres://… REDIS_URL=redis://… .venv/bin/python bench/stack.py --batches 40

Sets up the stack the production-stack test uses (``yingdu/tests/stack.py``: a scratch database,
the README's recipe, two gunicorn servers with production settings, one background worker), then
sends signed batches of 1,000 records through both servers, two agents per server, and prints the
records accepted per second through both servers and the 99th percentile of the batch latency
(request to answer). Meanwhile an applicant and a reviewer load their pages in a loop on the
people's pool: the page p99 is printed idle, while the batches go to the provider API's own pool
(the recipe), and while they share the people's workers (as before). Figures are printed, not
asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from agent.signing import public_key_b64  # noqa: E402
from yingdu.tests.stack import Session, Stack, count, ingest_through, make_records  # noqa: E402

BATCH = 1000
PAGES = ("/applications/", "/review/")  # the applicant's list and the reviewer's workbench
TARGET_PAGE_P99_MS = 300


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered)) - 1))] if ordered else float("nan")


class PageClients:
    """Logged-in people (an applicant and a reviewer) loading their pages in a loop on ``port``."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sessions = []
        for name, path in (("alice", PAGES[0]), ("reviewer", PAGES[1])):
            session = Session()
            session.login(port, name)
            self.sessions.append((session, path))
        self.stop = threading.Event()
        self.latencies: list[float] = []
        self.threads: list[threading.Thread] = []

    def _loop(self, session: Session, path: str) -> None:
        while not self.stop.is_set():
            t0 = time.perf_counter()
            reply = session.get(self.port, path)
            assert reply.status == 200, (path, reply.status)
            self.latencies.append(time.perf_counter() - t0)

    def start(self) -> None:
        self.stop.clear()
        self.latencies = []
        self.threads = [threading.Thread(target=self._loop, args=sp) for sp in self.sessions]
        for t in self.threads:
            t.start()

    def finish(self) -> list[float]:
        self.stop.set()
        for t in self.threads:
            t.join(120)
        return self.latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=30, help="batches of 1,000 records (default 30)")
    parser.add_argument("--clients", type=int, default=2, help="agents per server (default 2)")
    parser.add_argument("--idle-seconds", type=float, default=5.0, help="pages timed with no ingestion")
    args = parser.parse_args()
    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")) or not redis_url:
        print(
            "bench/stack.py needs DATABASE_URL=postgres://… and REDIS_URL (make bench starts both)",
            file=sys.stderr,
        )
        return 2
    key = Ed25519PrivateKey.generate()
    records = make_records(key, (2 * args.batches + 2) * BATCH, "bench-node")
    warmup = [records[i : i + BATCH // 2] for i in range(0, 2 * BATCH, BATCH // 2)]
    rest = [records[i : i + BATCH] for i in range(2 * BATCH, len(records), BATCH)]
    shared_batches, pooled_batches = rest[: args.batches], rest[args.batches :]
    stack = Stack(database_url, redis_url, "console://")
    try:
        stack.install()
        facts = stack.python(
            "import json; from yingdu.tests.stack import seed; "
            f"print(json.dumps(seed({public_key_b64(key)!r}, node_id='bench-node')))"
        )
        # The recipe: on each app server a pool for people (8001) and one for the provider API (8002).
        people = stack.start_servers(2)
        ingest = stack.start_servers(2)
        stack.start_worker()
        people_ports, ingest_ports = [s.port for s in people], [s.port for s in ingest]
        ingest_through(
            ingest_ports, facts["token"], warmup, clients_per_server=2
        )  # imports, keys, connections
        pages = PageClients(people_ports[0])
        pages.start()
        time.sleep(args.idle_seconds)
        idle = pages.finish()
        # Before: batches and pages share the same workers.
        pages.start()
        shared = ingest_through(people_ports, facts["token"], shared_batches, clients_per_server=args.clients)
        shared_pages = pages.finish()
        # Now: batches go to their own pool.
        pages.start()
        run = ingest_through(ingest_ports, facts["token"], pooled_batches, clients_per_server=args.clients)
        pooled_pages = pages.finish()
    finally:
        stack.stop(show_logs=False)
    accepted = sum(count(a, "accepted") for a in [*shared.answers, *run.answers])
    if accepted != len(rest) * BATCH:
        print(f"only {accepted} of {len(rest) * BATCH} records were accepted", file=sys.stderr)
        return 1
    print(
        f"gunicorn: 2 servers × 2 workers for people, 2 × 2 for the provider API, {args.clients} agents per"
        " server, PostgreSQL, Redis, production settings"
    )
    print(f"through both ingest servers: {run.per_second:10,.0f} records/s")
    print(f"p99 batch latency:           {run.p99 * 1000:10,.0f} ms   (batches of {BATCH:,})")
    idle_p99 = p99(idle) * 1000
    print(f"page p99 idle:               {idle_p99:10,.0f} ms   ({len(idle)} loads of {', '.join(PAGES)})")
    print(
        f"page p99 while ingesting:    {p99(pooled_pages) * 1000:10,.0f} ms   ratio to idle "
        f"{p99(pooled_pages) * 1000 / idle_p99:.2f}x (target <= {TARGET_PAGE_P99_MS} ms; {len(pooled_pages)} loads)"
    )
    print(
        f"  same workers (before):     {p99(shared_pages) * 1000:10,.0f} ms   "
        f"({shared.per_second:,.0f} records/s through the people's servers)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
