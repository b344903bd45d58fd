"""`make run` (scripts/run.sh): the development server and the background worker on SQLite, together."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from core.smtp import serving_smtp
from yingdu.tests.stack import REPO, free_port

BIN = Path(sys.executable).parent
JOBS = {
    "ledger.tasks.sign_periodic_checkpoint",
    "ledger.tasks.verify_ledger_nightly",
    "policy.tasks.daily_holiday_schedule_check",
    "review.tasks.daily_deadline_reminders",
    "review.tasks.daily_offer_deadlines",
    "core.tasks.requeue_unsent_email",
}


def wait_until(
    predicate: Callable[[], bool],
    what: str,
    process: subprocess.Popen[bytes],
    log: Path,
    timeout: float = 300,
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert process.poll() is None, f"scripts/run.sh exited:\n{log.read_text(errors='replace')[-3000:]}"
        assert time.monotonic() < deadline, (
            f"timed out waiting for {what}:\n{log.read_text(errors='replace')[-3000:]}"
        )
        time.sleep(0.3)


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return list(conn.execute(sql).fetchall())
    except sqlite3.OperationalError:  # not migrated yet
        return []


def answers(port: int) -> bool:
    import http.client

    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False


def processes_of(var_dir: Path) -> dict[int, str]:
    """Processes whose environment names ``var_dir`` (the script, its server and worker), with their
    command lines."""
    found = {}
    marker = f"YINGDU_VAR_DIR={var_dir}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
    return found


def test_it_runs_the_worker_beside_the_web_server_on_sqlite_and_stops_both_together(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    port = free_port()
    log = tmp_path / "run.log"
    with serving_smtp() as smtp:
        env = {
            k: v
            for k, v in os.environ.items()
            if k
            not in ("DATABASE_URL", "REDIS_URL", "HUEY_IMMEDIATE", "MEDIA_ROOT", "DJANGO_SETTINGS_MODULE")
        }
        env.update(
            {
                "YINGDU_ENV": "development",
                "YINGDU_VAR_DIR": str(var_dir),
                "HOST": "127.0.0.1",
                "PORT": str(port),
                "BIN": str(BIN),
                "EMAIL_URL": f"smtp://{smtp.host}:{smtp.port}",
                "LOG_LEVEL": "WARNING",
                "WITNESS_PORTS": f"{free_port()} {free_port()}",
            }
        )
        script = subprocess.Popen(
            ["bash", "scripts/run.sh"],
            cwd=REPO,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # Ctrl-C must reach the script even when the suite itself was started in the background,
            # where SIGINT is ignored and bash could not trap it.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        try:
            # The demo plays a year of operation before the server starts (under a minute when idle,
            # several on a busy two-core machine).
            wait_until(lambda: answers(port), "the development server", script, log, timeout=480)
            db = var_dir / "yingdu.sqlite3"

            def caught_up() -> bool:
                rows = query(db, "SELECT job FROM yingdu_periodicrun WHERE finished_at IS NOT NULL")
                return {str(r[0]) for r in rows} == JOBS

            # The worker ran each periodic job's latest slot, once: the demo's checkpoint is signed.
            wait_until(caught_up, "the worker's periodic jobs", script, log)
            assert query(db, "SELECT count(*) FROM yingdu_periodicrun") == [(len(JOBS),)]
            checkpoints = query(db, "SELECT count(*) FROM ledger_checkpoint")[0][0]
            assert isinstance(checkpoints, int) and checkpoints >= 1
            assert (var_dir / "huey.sqlite3").is_file()
            # Two witnesses on loopback cosigned the demo's checkpoint (a 2-of-2 policy).
            cosigners = query(db, "SELECT count(DISTINCT witness_id) FROM ledger_cosignature")
            assert cosigners == [(2,)], log.read_text(errors="replace")[-3000:]

            # A task enqueued by another process (as the web server enqueues mail) runs on the worker.
            subprocess.run(
                [
                    str(BIN / "yingdu"),
                    "shell",
                    "--no-imports",
                    "-c",
                    "from review.notify import send_email; send_email('队列测试', '正文', ['dev@example.cn'])",
                ],
                cwd=REPO,
                env={**env, "HUEY_IMMEDIATE": "0"},
                check=True,
                capture_output=True,
            )
            mail = smtp.wait_for(lambda m: "队列测试" in m.subject, timeout=30)
            assert mail.to == ["dev@example.cn"]
            commands = " | ".join(processes_of(var_dir).values())
            assert "yingdu run_huey" in commands and "yingdu runserver" in commands, commands
            assert commands.count("-m witness serve") == 2, commands
        finally:
            if script.poll() is None:
                os.killpg(script.pid, signal.SIGINT)  # Ctrl-C
            try:
                script.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(script.pid, signal.SIGKILL)
                for pid in processes_of(var_dir):
                    os.kill(pid, signal.SIGKILL)
                raise
    deadline = time.monotonic() + 20
    while processes_of(var_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_of(var_dir) == {}
