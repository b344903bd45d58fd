"""The production stack as the README starts it: PostgreSQL, Redis, two gunicorn app servers with
production settings, background workers, and mail over SMTP, exercised through both servers at once.

One stack serves the module (setting it up is most of the cost); the tests run in file order.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from core.smtp import SmtpSink, serving_smtp
from yingdu.tests.stack import (
    Process,
    Session,
    Stack,
    count,
    ingest_through,
    make_records,
    post_batch,
    recipe_commands,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

BATCH = 500
# Every periodic job of the platform (``core.periodic.JOBS`` once each app's tasks are imported).
PERIODIC_JOBS = [
    "core.tasks.requeue_unsent_email",
    "ledger.tasks.sign_periodic_checkpoint",
    "ledger.tasks.verify_ledger_nightly",
    "policy.tasks.daily_holiday_schedule_check",
    "review.tasks.daily_deadline_reminders",
    "review.tasks.daily_offer_deadlines",
]
IN_FLIGHT = 3000  # the batch whose server is killed: long enough to be cut off mid-way
CHINA = dt.timezone(dt.timedelta(hours=8))


def today() -> dt.date:
    return dt.datetime.now(CHINA).date()


def distinct_pdf(n: int) -> bytes:
    """A small valid PDF whose bytes differ for each ``n``."""
    import io

    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(200 + n, 200))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


@dataclass
class Running:
    stack: Stack
    smtp: SmtpSink
    servers: list[Process]
    worker: Process
    token: str
    key: Any
    overdue: str

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.stack.database_url) as conn:
            return list(conn.execute(query, params).fetchall())

    def execute(self, query: str, *params: Any) -> None:
        import psycopg

        with psycopg.connect(self.stack.database_url) as conn:
            conn.execute(query, params)

    def one(self, query: str, *params: Any) -> Any:
        return self.sql(query, *params)[0][0]

    def drain(self, timeout: float = 120) -> None:
        """Wait until the workers took every queued task (and finished it: one more beat)."""
        self.stack.wait_until(lambda: self.stack.queued() == 0, "the Redis queue to drain", timeout)
        time.sleep(1.0)


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from agent.signing import public_key_b64

    database_url = os.environ.get("DATABASE_URL", "")
    assert database_url.startswith(("postgres://", "postgresql://")), "needs DATABASE_URL=postgres://…"
    redis_url = os.environ["REDIS_URL"]
    key = Ed25519PrivateKey.generate()
    with serving_smtp() as smtp:
        stack = Stack(database_url, redis_url, f"smtp://{smtp.host}:{smtp.port}")
        try:
            t0 = time.perf_counter()
            stack.install()
            facts = stack.python(
                "import json; from yingdu.tests.stack import seed; "
                f"print(json.dumps(seed({public_key_b64(key)!r})))"
            )
            servers = stack.start_servers(2)
            worker = stack.start_worker()
            print(f"stack ready in {time.perf_counter() - t0:.1f}s: {stack.timings}")
            yield Running(stack, smtp, servers, worker, facts["token"], key, facts["overdue"])
        finally:
            stack.stop()


def test_it_follows_the_readme_recipe_command_by_command() -> None:
    assert recipe_commands() == [
        "yingdu migrate --noinput",
        "yingdu collectstatic --noinput",
        "yingdu check --deploy --fail-level WARNING",
        "gunicorn yingdu.wsgi -w 4 -b 127.0.0.1:8001",
        "gunicorn yingdu.wsgi -w 2 -b 127.0.0.1:8002",
        "yingdu run_huey",
    ]


def test_it_ingests_through_both_servers_and_a_server_killed_mid_batch_loses_nothing(
    running: Running,
) -> None:
    stack = running.stack
    records = make_records(running.key, 8 * BATCH + IN_FLIGHT, "stack-node")
    batches = [records[i : i + BATCH] for i in range(0, 8 * BATCH, BATCH)]
    in_flight = records[8 * BATCH :]
    a, b = running.servers
    run = ingest_through([a.port, b.port], running.token, batches)
    print(run.summary(2))
    assert sum(count(r, "accepted") for r in run.answers) == 8 * BATCH, run.answers[:1]

    # A server dies (SIGKILL, master and workers) while it ingests a batch; the agent resends to the other.
    errors: list[BaseException] = []

    def doomed() -> None:
        try:
            post_batch(a.port, running.token, in_flight, timeout=30)
        except BaseException as exc:  # noqa: BLE001 - the connection dies with the server
            errors.append(exc)

    sender = threading.Thread(target=doomed)
    sender.start()
    time.sleep(0.3)
    a.kill(signal.SIGKILL)
    sender.join(60)
    assert errors, "the server answered before it was killed"
    resent = post_batch(b.port, running.token, in_flight)
    assert count(resent, "accepted") + count(resent, "duplicate") == len(in_flight)
    again = post_batch(b.port, running.token, batches[0])
    assert count(again, "duplicate") == BATCH
    running.servers[0] = stack.start_server()

    sent = {r["record_id"] for r in records}
    stored, distinct = running.sql("SELECT count(*), count(DISTINCT record_id) FROM monitoring_usagerecord")[
        0
    ]
    assert stored == distinct == len(sent)
    assert {str(r[0]) for r in running.sql("SELECT record_id FROM monitoring_usagerecord")} == sent
    # One log: one state row, one entry per leaf index, and the whole log verifies.
    assert running.one("SELECT count(*) FROM ledger_logstate") == 1
    size, entries = running.sql(
        "SELECT (SELECT size FROM ledger_logstate), (SELECT count(DISTINCT leaf_index) FROM ledger_entry)"
    )[0]
    assert size == entries
    verified = stack.run(["yingdu", "ledger", "verify"])
    assert verified.returncode == 0, verified.stdout
    checkpoints = {Session().get(server.port, "/api/v1/ledger/checkpoint").body for server in running.servers}
    assert len(checkpoints) == 1


def test_it_takes_an_application_from_submission_to_payment_through_both_servers(running: Running) -> None:
    from applications.models import REQUIRED_MATERIALS, MaterialKind
    from review.tests.test_browser import consumption_csv

    a, b = (s.port for s in running.servers)
    alice = Session()
    alice.login(a, "alice")
    created = alice.post_json(b, "/api/v1/applications/", {})
    assert created.status == 201, created.body
    app_id = created.json()["id"]
    launch = today() - dt.timedelta(days=3)
    fields = {
        "work_title": "龙城夜雨",
        "filing_number": "京剧备字2026-0901",
        "work_minutes": 100,
        "platform_name": "红果短剧",
        "launch_date": launch.isoformat(),
        "launch_proof_number": "无",
        "overseas": False,
        "provider_name": "怀柔智算中心",
        "compute_minutes": 100,
        "total_compute_cost": "50000.00",
        "declaration_accepted": True,
        "signer_name": "张三",
    }
    patched = alice.post_json(a, f"/api/v1/applications/{app_id}", fields, method="PATCH")
    assert patched.status == 200, patched.body
    uploaded: dict[int, bytes] = {}
    start = dt.datetime.combine(launch - dt.timedelta(days=20), dt.time(9, 0))
    for i, kind in enumerate(REQUIRED_MATERIALS):
        if kind == MaterialKind.CONSUMPTION_DETAIL:
            name, content, mime = "明细.csv", consumption_csv(100, Decimal("50000.00"), start), "text/csv"
        else:
            name, content, mime = f"{kind}.pdf", distinct_pdf(i), "application/pdf"
        reply = alice.upload(
            a if i % 2 == 0 else b,
            f"/api/v1/applications/{app_id}/materials",
            {"kind": str(kind)},
            name,
            content,
            mime,
        )
        assert reply.status == 201, reply.body
        uploaded[reply.json()["id"]] = content
    # Each material is served by the server that did not receive it (the shared MEDIA_ROOT).
    for i, (material_id, content) in enumerate(uploaded.items()):
        other = b if i % 2 == 0 else a
        download = alice.get(other, f"/api/v1/applications/{app_id}/materials/{material_id}")
        assert download.status == 200 and download.body == content
    submitted = alice.request(b, "POST", f"/api/v1/applications/{app_id}/submit")
    assert submitted.status == 200, submitted.body
    reference = submitted.json()["reference"]

    staff = {name: Session() for name in ("reviewer", "head", "approver", "finance")}
    for i, (name, session) in enumerate(staff.items()):
        session.login(a if i % 2 else b, name)
    steps = [
        ("reviewer", a, "claim"),
        ("reviewer", b, "pass_initial"),
        ("head", a, "pass_re_review"),
        ("approver", b, "approve"),
    ]
    for name, port, transition in steps:
        reply = staff[name].post_form(port, f"/review/{app_id}/do/{transition}/", {"opinion": "同意"})
        assert reply.status == 302, (transition, reply.status, reply.body[:500])
    # The payment's mail is not sent while the worker is paused: the server only enqueues it.
    smtp = running.smtp
    smtp.wait_for(lambda m: "审批通过" in m.subject, timeout=90)
    running.drain()
    os.killpg(running.worker.popen.pid, signal.SIGSTOP)
    try:
        paid = staff["finance"].post_form(
            a,
            f"/review/{app_id}/payment/",
            {"date": today().isoformat(), "amount": "15000.00", "bank_reference": "BOC2026120100018"},
        )
        assert paid.status == 302, paid.body[:500]
        time.sleep(1.5)  # (a paused worker's blocking read may already hold it: the queue can be empty)
        assert not [m for m in smtp.messages if "已兑现" in m.subject]
    finally:
        os.killpg(running.worker.popen.pid, signal.SIGCONT)
    assert alice.get(b, f"/api/v1/applications/{app_id}").json()["status"] == "paid"
    assert running.one("SELECT count(*) FROM review_payment WHERE application_id = %s", app_id) == 1

    # The worker on Redis sent the mail that each server enqueued: the receipt (B), the payment (A).
    smtp.wait_for(lambda m: "已提交" in m.subject and reference in m.subject, timeout=90)
    smtp.wait_for(lambda m: "审批通过" in m.subject, timeout=90)
    smtp.wait_for(lambda m: "已兑现" in m.subject, timeout=90)
    running.drain()
    receipts = [m for m in smtp.messages if "已提交" in m.subject and reference in m.subject]
    assert len(receipts) == 1
    assert running.stack.run(["yingdu", "ledger", "verify"]).returncode == 0


def reminders_to(smtp: SmtpSink, address: str) -> int:
    return sum(1 for m in smtp.messages if "期限提醒" in m.subject and address in m.to)


def test_it_sends_each_reminder_once_however_often_the_job_is_enqueued(running: Running) -> None:
    # The worker caught up on today's reminder slot when it started: the overdue item was mailed.
    smtp = running.smtp
    mail = smtp.wait_for(lambda m: "期限提醒" in m.subject, timeout=90)
    assert running.overdue in mail.body
    # Enqueued again (as each worker's scheduler does at 00:30 UTC), it does nothing new.
    for _ in range(2):
        running.stack.python("from review.tasks import daily_deadline_reminders as job; job()")
    running.drain()
    assert reminders_to(smtp, "reviewer@example.cn") == 1
    job = "review.tasks.daily_deadline_reminders"
    assert running.one("SELECT count(*) FROM yingdu_periodicrun WHERE job = %s", job) == 1


def test_two_workers_started_at_once_do_each_periodic_job_once(running: Running) -> None:
    from django.utils.module_loading import autodiscover_modules

    from core.periodic import JOBS

    autodiscover_modules("tasks")
    assert sorted(JOBS) == PERIODIC_JOBS
    stack, smtp = running.stack, running.smtp
    running.worker.kill(signal.SIGTERM)
    before = reminders_to(smtp, "reviewer@example.cn")
    # As on a new day: no periodic job has run yet for the current slots.
    for table in ("yingdu_periodicrun", "review_deadlinereminder", "ledger_verificationrun"):
        running.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
    workers = [stack.start_worker(), stack.start_worker()]

    def all_done() -> bool:
        done = running.one("SELECT count(*) FROM yingdu_periodicrun WHERE finished_at IS NOT NULL")
        return bool(done == len(PERIODIC_JOBS))

    stack.wait_until(all_done, "the periodic jobs of the two workers", timeout=120, process=workers[0])
    running.drain()
    assert all(w.alive() for w in workers)
    rows = running.sql("SELECT job, count(*) FROM yingdu_periodicrun GROUP BY job ORDER BY job")
    assert rows == [(job, 1) for job in PERIODIC_JOBS]
    assert running.one("SELECT count(*) FROM ledger_verificationrun") == 1
    assert reminders_to(smtp, "reviewer@example.cn") == before + 1
    assert stack.queued() == 0
