"""Every e-mail goes through the outbox: a row with the action, sent by the worker, marked sent after
the server accepted it, retried after a failure or a crash (docs/outbox.md)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection, transaction
from django.test import TestCase

from core.models import OutboxEmail
from core.notifications import OutboxError, new_message_id, queue_email, requeue_unsent, send_queued
from core.smtp import SmtpSink, free_port, serving_smtp

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


class OutboxTests(TestCase):
    def test_it_writes_the_email_with_the_transaction_and_sends_nothing_after_a_rollback(self) -> None:
        with self.captureOnCommitCallbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
            queue_email("审批通过", "正文", ["lisi@example.cn"])
            raise RuntimeError("the action failed")
        self.assertFalse(OutboxEmail.objects.exists())
        self.assertEqual(mail.outbox, [])

    def test_it_sends_a_row_once_with_its_message_id_however_often_its_task_runs(self) -> None:
        with self.captureOnCommitCallbacks(execute=True):
            row = queue_email("审批通过", "正文", ["lisi@example.cn", "LISI@example.cn", " "])
        assert row is not None
        self.assertTrue(send_queued(row.pk))  # the task run once more, as after a restart
        row.refresh_from_db()
        self.assertEqual(row.status, OutboxEmail.Status.SENT)
        self.assertEqual(row.attempts, 1)
        (message,) = mail.outbox
        self.assertEqual(message.to, ["lisi@example.cn"])
        self.assertEqual(message.extra_headers["Message-ID"], row.message_id)

    def test_it_keeps_the_row_queued_while_the_server_is_down_and_sends_it_later(self) -> None:
        row = queue_email("审批通过", "正文", ["lisi@example.cn"])
        assert row is not None
        with (
            self.settings(
                EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
                EMAIL_HOST="127.0.0.1",
                EMAIL_PORT=free_port(),
                EMAIL_TIMEOUT=2,
            ),
            pytest.raises(OutboxError),
        ):
            send_queued(row.pk)
        row.refresh_from_db()
        self.assertEqual((row.status, row.attempts), (OutboxEmail.Status.QUEUED, 1))
        self.assertTrue(row.last_error)
        self.assertEqual(requeue_unsent(stale_after=dt.timedelta(0)), 1)  # the immediate queue sends it
        row.refresh_from_db()
        self.assertEqual(row.status, OutboxEmail.Status.SENT)
        self.assertEqual(len(mail.outbox), 1)


# --- a worker killed in the middle -----------------------------------------------------------------

TOTAL = 400


def _database_url() -> str:
    db = connection.settings_dict
    auth = urllib.parse.quote(db["USER"] or "") + (
        f":{urllib.parse.quote(db['PASSWORD'])}" if db["PASSWORD"] else ""
    )
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own worker
        [str(BIN / "yingdu"), "run_huey"],
        env=env,
        cwd=REPO,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait(
    predicate: object, what: str, worker: subprocess.Popen[bytes], log: Path, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert worker.poll() is None, log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, (
            f"timed out waiting for {what}: " + log.read_text(errors="replace")[-3000:]
        )
        time.sleep(0.05)


def _message_ids(sink: SmtpSink) -> list[str]:
    return [str(m.message["Message-ID"]) for m in sink.messages]


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_send_loses_no_email_and_a_resend_carries_the_same_message_id() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="yingdu-outbox-"))
    redis_url = urllib.parse.urlsplit(os.environ["REDIS_URL"])._replace(path="/6").geturl()
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    # Rows as actions leave them (this process's queue is immediate, so the rows are written
    # directly: the worker queues them as it starts).
    rows = OutboxEmail.objects.bulk_create(
        OutboxEmail(
            message_id=new_message_id(settings.DEFAULT_FROM_EMAIL),
            subject=f"通知 {n}",
            body=f"第 {n} 封",
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipients=[f"user{n}@example.cn"],
        )
        for n in range(TOTAL)
    )
    expected = {row.message_id for row in rows}
    with serving_smtp() as sink:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("HUEY_", "DJANGO_", "DATABASE_"))},
            "YINGDU_ENV": "development",
            "YINGDU_VAR_DIR": str(tmp),
            "DATABASE_URL": _database_url(),
            "REDIS_URL": redis_url,
            "HUEY_IMMEDIATE": "0",
            "EMAIL_URL": f"smtp://{sink.host}:{sink.port}",
            "LOG_LEVEL": "WARNING",
        }
        log = tmp / "worker.log"
        # The first worker queues every unsent row as it starts, and is killed a quarter of the way.
        worker = _start_worker(env, log)
        _wait(lambda: len(sink.messages) >= TOTAL // 4, "a quarter of the mail", worker, log)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(30)
        received_at_kill = len(sink.messages)
        assert received_at_kill < TOTAL, "the worker finished before it was killed"
        worker = _start_worker(env, log)
        try:
            _wait(
                lambda: OutboxEmail.objects.filter(status=OutboxEmail.Status.SENT).count() == TOTAL,
                "every row marked sent",
                worker,
                log,
            )
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(30)
        ids = _message_ids(sink)
    assert set(ids) == expected  # none lost, none foreign
    # A message is sent twice only if the worker died between the server's acceptance and the mark;
    # the second copy carries the same Message-ID. One kill, two worker threads: at most two.
    assert len(ids) - len(expected) <= 2, len(ids)
    print(f"received {len(ids)} messages for {TOTAL} rows; {received_at_kill} before the kill")
