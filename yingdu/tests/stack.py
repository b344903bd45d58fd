"""The documented production stack, started on loopback for the suite and ``make bench``.

PostgreSQL (a scratch database next to ``DATABASE_URL``), Redis (``REDIS_URL``), gunicorn app
servers with production settings and dummy secrets, Huey workers, and an SMTP server
(aiosmtpd) that receives the platform's mail. The setup runs the commands of the README's
production recipe (``recipe_commands``), so the recipe is what is tested.

Every process runs in its own process group and is killed when the stack stops; servers bind
127.0.0.1 only; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
HOST = "yingdu.example.cn"
PASSWORD = "Yd-stack-Passw0rd!"  # noqa: S105 - throw-away accounts of a scratch database
SECRET = "stack-dummy-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFG"  # noqa: S105
USCC = "91110116MA01ABCD11"
CHINA = timezone(timedelta(hours=8))
RECIPE_START = "<!-- recipe: production -->"
RECIPE_END = "<!-- /recipe -->"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def recipe_commands(readme: Path = REPO / "README.md") -> list[str]:
    """The commands of the README's production recipe (the shell block between the markers)."""
    text = readme.read_text(encoding="utf-8")
    start, end = text.index(RECIPE_START), text.index(RECIPE_END)
    block = text[start:end]
    lines = re.search(r"```(?:bash|sh)\n(.*?)```", block, re.S)
    assert lines, "the production recipe has no shell block"
    return [line.strip() for line in lines.group(1).splitlines() if line.strip() and not line.startswith("#")]


def recipe_command(prefix: str) -> list[str]:
    """The recipe's command that starts with ``prefix`` (``yingdu migrate``, ``gunicorn``, …), as argv."""
    for line in recipe_commands():
        if line.startswith(prefix):
            return shlex.split(line)
    raise AssertionError(f"the production recipe lists no `{prefix}` command")


# -- signed usage records ------------------------------------------------------------------------


def make_records(key: Any, n: int, node_id: str, *, uscc: str = USCC) -> list[dict[str, Any]]:
    """``n`` signed 10-minute records on 256 GPUs of ``node_id``, none overlapping, in the past."""
    from agent.signing import sign_record

    base = datetime(2026, 1, 1, tzinfo=CHINA)
    records = []
    for i in range(n):
        start = base + timedelta(minutes=10 * (i // 256))
        record = {
            "record_id": str(uuid.uuid4()),
            "node_id": node_id,
            "enterprise_uscc": uscc,
            "work_ref": f"京剧备字2026{i % 500:03d}号",
            "job_id": f"job-{i // 256}",
            "scenario": "text2video",
            "gpu_model": "NVIDIA H200",
            "gpu_uuid": f"GPU-{node_id}-{i % 256:04d}",
            "gpu_count": 1,
            "started_at": start.isoformat(),
            "ended_at": (start + timedelta(minutes=10)).isoformat(),
            "gpu_seconds": 600,
            "avg_util_pct": 91.5,
            "max_mem_mib": 80211,
            "energy_wh": 108.4,
            "cost_cny": "2.08",
        }
        records.append(sign_record(record, key))
    return records


# -- an HTTP client that behaves like a browser behind the TLS proxy -------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    for name, (filename, content, mime) in files.items():
        parts.append(
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f"filename*=UTF-8''{urllib.parse.quote(filename)}\r\nContent-Type: {mime}\r\n\r\n"
            ).encode()
            + content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


@dataclass
class Session:
    """One user's cookies; each request goes to the app server on ``port``, as nginx would send it
    (``X-Forwarded-Proto: https``, the public host name)."""

    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        port: int,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str | None = None,
        timeout: float = 60,
    ) -> Reply:
        headers = {
            "Host": HOST,
            "X-Forwarded-Proto": "https",
            "Referer": f"https://{HOST}/",
            "Origin": f"https://{HOST}",
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if "csrftoken" in self.cookies:
            headers["X-CSRFToken"] = self.cookies["csrftoken"]
        if content_type:
            headers["Content-Type"] = content_type
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            for value in response.headers.get_all("Set-Cookie") or []:
                cookie: SimpleCookie = SimpleCookie()
                cookie.load(value)
                for name, morsel in cookie.items():
                    if morsel.value:
                        self.cookies[name] = morsel.value
                    else:
                        self.cookies.pop(name, None)
            return Reply(response.status, dict(response.headers.items()), data)
        finally:
            conn.close()

    def get(self, port: int, path: str) -> Reply:
        return self.request(port, "GET", path)

    def post_form(self, port: int, path: str, data: dict[str, str]) -> Reply:
        return self.request(
            port, "POST", path, urllib.parse.urlencode(data).encode(), "application/x-www-form-urlencoded"
        )

    def post_json(self, port: int, path: str, data: Any, method: str = "POST") -> Reply:
        return self.request(port, method, path, json.dumps(data).encode(), "application/json")

    def upload(
        self, port: int, path: str, fields: dict[str, str], name: str, content: bytes, mime: str
    ) -> Reply:
        body, content_type = multipart(fields, {"file": (name, content, mime)})
        return self.request(port, "POST", path, body, content_type)

    def login(self, port: int, username: str, password: str = PASSWORD) -> None:
        page = self.get(port, "/accounts/login/")
        assert page.status == 200, page.status
        reply = self.post_form(port, "/accounts/login/", {"username": username, "password": password})
        assert reply.status == 302 and "sessionid" in self.cookies, (reply.status, reply.body[:300])


# -- the processes -------------------------------------------------------------------------------


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    port: int = 0

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (gunicorn's master and its workers alike)."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
        try:
            self.popen.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)


class Stack:
    """A scratch PostgreSQL database, one Redis database, app servers and workers on loopback."""

    def __init__(self, database_url: str, redis_url: str, email_url: str) -> None:
        import psycopg

        self.tmp = Path(tempfile.mkdtemp(prefix="yingdu-stack-"))
        parsed = urllib.parse.urlsplit(database_url)
        self.db_name = f"yingdu_stack_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self._admin_url = parsed._replace(path="/postgres").geturl()
        with psycopg.connect(self._admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db_name}"')
        self.database_url = parsed._replace(path=f"/{self.db_name}").geturl()
        redis = urllib.parse.urlsplit(redis_url)._replace(path="/7")
        self.redis_url = redis.geturl()
        self._redis().flushdb()
        # One shared folder for uploads: the storage setting several app servers need.
        self.media = self.tmp / "shared-media"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("HUEY_", "DJANGO_"))},
            "YINGDU_ENV": "production",
            "SECRET_KEY": SECRET,
            "ALLOWED_HOSTS": HOST,
            "CSRF_TRUSTED_ORIGINS": f"https://{HOST}",
            "DATABASE_URL": self.database_url,
            "DB_CONN_MAX_AGE": "60",
            "REDIS_URL": self.redis_url,
            "EMAIL_URL": email_url,
            "YINGDU_VAR_DIR": str(self.tmp / "var"),
            "MEDIA_ROOT": str(self.media),
            "LEDGER_KEY_PATH": str(self.tmp / "keys" / "ledger_ed25519.key"),
            "STAFF_MFA_REQUIRED": "0",
            "LOG_LEVEL": "WARNING",
            "HUEY_WORKERS": "2",
        }
        self.processes: list[Process] = []
        self.timings: dict[str, float] = {}

    def _redis(self) -> Any:
        import redis

        return redis.Redis.from_url(self.redis_url)

    # -- commands --

    def run(
        self, argv: list[str], *, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run a command of the recipe (``yingdu …``) in the production environment."""
        if argv[0] in ("yingdu", "gunicorn"):
            argv = [str(BIN / argv[0]), *argv[1:]]
        out = subprocess.run(argv, env=self.env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
        if check and out.returncode != 0:
            raise AssertionError(f"{shlex.join(argv)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
        return out

    def yingdu(self, *args: str) -> str:
        return self.run(["yingdu", *args]).stdout

    def python(self, code: str) -> Any:
        """Run ``code`` in ``yingdu shell`` of the stack; its last printed line (if any) is read as JSON."""
        out = self.yingdu("shell", "--no-imports", "-c", code).strip().splitlines()
        return json.loads(out[-1]) if out else None

    def install(self) -> None:
        """The recipe up to the servers: migrate and collect static files (independent of each other,
        so side by side), then the deployment check."""
        import concurrent.futures

        def timed(prefix: str) -> None:
            t0 = time.perf_counter()
            self.run(recipe_command(prefix))
            self.timings[prefix] = round(time.perf_counter() - t0, 1)

        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            list(pool.map(timed, ["yingdu migrate", "yingdu collectstatic"]))
        self._use_app_role()
        timed("yingdu check")

    def _use_app_role(self) -> None:
        """From here on the platform connects as its own role, neither superuser nor owner of the
        tables (docs/security.md): migrations ran as the owner, the app role reads and writes."""
        import psycopg

        parsed = urllib.parse.urlsplit(self.database_url)
        self.app_role = f"{self.db_name}_app"
        password = uuid.uuid4().hex
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute(
                f"CREATE ROLE \"{self.app_role}\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '{password}'"
            )
            conn.execute(f'GRANT CONNECT ON DATABASE "{self.db_name}" TO "{self.app_role}"')
            conn.execute(f'GRANT USAGE ON SCHEMA public TO "{self.app_role}"')
            conn.execute(
                f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{self.app_role}"'
            )
            conn.execute(
                f'GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO "{self.app_role}"'
            )
        host = parsed.hostname or "127.0.0.1"
        netloc = f"{self.app_role}:{password}@{host}" + (f":{parsed.port}" if parsed.port else "")
        self.env["DATABASE_URL"] = parsed._replace(netloc=netloc).geturl()

    # -- processes --

    def _spawn(self, name: str, argv: list[str], port: int = 0) -> Process:
        log = self.tmp / f"{name}.log"
        popen = subprocess.Popen(  # noqa: S603 - our own commands
            argv,
            env=self.env,
            cwd=REPO,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process = Process(name, popen, log, port)
        self.processes.append(process)
        return process

    def start_servers(self, n: int, workers: int = 2) -> list[Process]:
        """``n`` app servers, each the recipe's gunicorn command on a free loopback port, started
        side by side."""
        argv = recipe_command("gunicorn")
        servers = []
        for _ in range(n):
            port = free_port()
            options = _replace_option(argv[1:], {"-w": str(workers), "-b": f"127.0.0.1:{port}"})
            servers.append(
                self._spawn(f"server-{port}", [str(BIN / "gunicorn"), *options, "--timeout", "120"], port)
            )
        for server in servers:
            self.wait_until(lambda s=server: _answers(s.port), f"gunicorn on {server.port}", process=server)  # type: ignore[misc]
        return servers

    def start_server(self, workers: int = 2) -> Process:
        return self.start_servers(1, workers)[0]

    def start_worker(self) -> Process:
        """One background worker: the recipe's ``yingdu run_huey``."""
        argv = recipe_command("yingdu run_huey")
        worker = self._spawn(f"worker-{len(self.processes)}", [str(BIN / "yingdu"), *argv[1:]])
        return worker

    def wait_until(
        self, predicate: Callable[[], bool], what: str, timeout: float = 180, process: Process | None = None
    ) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if process is not None and not process.alive():
                raise AssertionError(
                    f"{process.name} exited:\n{process.log.read_text(errors='replace')[-3000:]}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.2)

    def queued(self) -> int:
        """Tasks waiting in the Redis queue."""
        from huey import RedisHuey

        return int(RedisHuey("yingdu", url=self.redis_url).pending_count())

    def logs(self, tail: int = 4000) -> str:
        """The end of each process's output (shown by pytest when a test failed)."""
        return "\n".join(
            f"== {p.name}\n{p.log.read_text(errors='replace')[-tail:]}"
            for p in self.processes
            if p.log.exists()
        )

    def stop(self, show_logs: bool = True) -> None:
        """Stop every process, drop the database, empty the Redis database, remove the folder;
        with ``show_logs``, print each process's output first (pytest shows it for a failed test)."""
        import psycopg

        if show_logs:
            print(self.logs())
        for process in reversed(self.processes):
            process.kill(signal.SIGTERM if process.name.startswith("worker") else signal.SIGKILL)
        self.processes.clear()
        try:
            self._redis().flushdb()
        finally:
            with psycopg.connect(self._admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
                conn.execute(f'DROP ROLE IF EXISTS "{self.db_name}_app"')
            subprocess.run(["rm", "-rf", str(self.tmp)], check=False)  # noqa: S607


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET /healthz HTTP/1.0\r\nHost: " + HOST.encode() + b"\r\n\r\n")
            return s.recv(12).startswith(b"HTTP/")
    except OSError:
        return False


def _replace_option(argv: list[str], values: dict[str, str]) -> list[str]:
    """``argv`` with the value after each option in ``values`` replaced (the option must be there)."""
    out = list(argv)
    for option, value in values.items():
        index = out.index(option)
        out[index + 1] = value
    return out


# -- the scratch database's people and facts (run inside ``yingdu shell`` of the stack) -----------


def seed(node_key_b64: str, node_id: str = "stack-node") -> dict[str, Any]:
    """Accounts of each role, the applicant's enterprise, a provider with a node, and one application
    whose review is overdue (the reminder job's work). Prints nothing; returns the facts as JSON."""
    import datetime as dt
    import io

    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.utils import timezone

    from accounts.groups import ensure_role_groups
    from accounts.models import User
    from accounts.roles import Role
    from applications.states import Status
    from enterprises.models import Enterprise
    from policy.actions import load_holiday_year
    from policy.models import HolidayYear
    from testing.fixtures import make_application

    ensure_role_groups()
    # Deadlines of applications made now may reach into next year: load its schedule if missing,
    # as an administrator would.
    next_year = timezone.localdate().year + 1
    if not HolidayYear.objects.filter(year=next_year).exists():
        load_holiday_year(
            {"year": next_year, "source": "测试用节假日安排", "holidays": [f"{next_year}-01-01"]}, actor=None
        )
    enterprise = Enterprise.objects.create(
        name="北京影都智造文化传媒有限公司",
        uscc=USCC,
        registered_address="北京市怀柔区杨宋镇凤翔科技开发区",
        operating_address="北京市怀柔区杨宋镇影都大道1号",
        legal_rep_name="张三",
        legal_rep_phone="+8613800138000",
        handler_name="李四",
        handler_phone="+8613900139000",
        handler_email="lisi@example.cn",
        status=Enterprise.Status.VERIFIED,
    )
    users = {}
    for username, role in [
        ("alice", Role.APPLICANT),
        ("reviewer", Role.REVIEWER),
        ("head", Role.HEAD),
        ("approver", Role.APPROVER),
        ("finance", Role.FINANCE),
    ]:
        extra = {"enterprise": enterprise} if role == Role.APPLICANT else {}
        user = User.objects.create_user(
            username=username,
            password=PASSWORD,
            email=f"{username}@example.cn",
            display_name=username,
            **extra,
        )
        user.groups.add(Group.objects.get(name=role))
        users[username] = user
    # The applicant is the enterprise's legal representative, so it holds every right itself.
    enterprise.legal_representative = users["alice"]
    enterprise.save(update_fields=["legal_representative"])
    overdue = make_application(
        enterprise,
        users["alice"],
        Status.SUBMITTED,
        submitted=timezone.now() - dt.timedelta(days=40),
    )
    out = io.StringIO()
    call_command("provider", "add", "--name", "怀柔智算中心", "--json", stdout=out)
    provider = json.loads(out.getvalue())
    call_command(
        "node",
        "add",
        "--provider",
        str(provider["provider_id"]),
        "--node-id",
        node_id,
        "--public-key",
        node_key_b64,
        stdout=io.StringIO(),
    )
    return {"token": provider["token"], "overdue": overdue.reference}


def post_batch(
    port: int, token: str, records: Iterable[dict[str, Any]], timeout: float = 120
) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(
            "POST",
            "/api/v1/usage/batches",
            body=json.dumps({"records": list(records)}).encode(),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Host": HOST,
                "X-Forwarded-Proto": "https",
            },
        )
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise AssertionError(f"HTTP {response.status}: {data[:500]!r}")
    return dict(json.loads(data))


def count(answer: dict[str, Any], status: str) -> int:
    """How many records of a batch answer have ``status`` (accepted, duplicate, rejected)."""
    return sum(1 for r in answer["results"] if r["status"] == status)


@dataclass
class IngestRun:
    """What sending batches through several servers at once measured."""

    answers: list[dict[str, Any]]
    latencies: list[float]
    elapsed: float

    @property
    def records(self) -> int:
        return sum(len(a["results"]) for a in self.answers)

    @property
    def per_second(self) -> float:
        return self.records / self.elapsed

    @property
    def p99(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered)) - 1))]

    def summary(self, servers: int) -> str:
        return (
            f"{self.records} records in {len(self.answers)} batches through {servers} servers: "
            f"{self.per_second:,.0f} records/s, p99 batch latency {self.p99 * 1000:,.0f} ms"
        )


def ingest_through(
    ports: list[int], token: str, batches: list[list[dict[str, Any]]], clients_per_server: int = 2
) -> IngestRun:
    """Send ``batches`` through all ``ports`` at once (``clients_per_server`` agents each), timing each."""
    import threading

    queue = list(batches)
    lock = threading.Lock()
    answers: list[dict[str, Any]] = []
    latencies: list[float] = []
    failures: list[BaseException] = []

    def client(port: int) -> None:
        while True:
            with lock:
                if not queue or failures:
                    return
                batch = queue.pop(0)
            t0 = time.perf_counter()
            try:
                answer = post_batch(port, token, batch)
            except BaseException as exc:  # noqa: BLE001 - reported to the caller below
                with lock:
                    failures.append(exc)
                return
            with lock:
                latencies.append(time.perf_counter() - t0)
                answers.append(answer)

    threads = [
        threading.Thread(target=client, args=(port,)) for port in ports for _ in range(clients_per_server)
    ]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    elapsed = time.perf_counter() - t0
    if failures:
        raise failures[0]
    return IngestRun(answers, latencies, elapsed)
