from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.test import Client

from core.env import ConfigError, parse_email_url

ROOT = Path(__file__).resolve().parents[2]
YINGDU = str(Path(sys.executable).parent / "yingdu")


@pytest.mark.django_db  # the home page shows the system administrator's announcement
def test_portal_home_is_chinese(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "中国影都人工智能算力服务平台" in text
    assert "申报入口" in text and "补贴政策" in text and "登录" in text


@pytest.mark.django_db
def test_responses_carry_security_headers(client: Client) -> None:
    response = client.get("/")
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"


def test_unknown_page_gives_chinese_404(client: Client) -> None:
    response = client.get("/no-such-page/")
    assert response.status_code == 404


def test_email_url_is_parsed_into_smtp_settings() -> None:
    parsed = parse_email_url("smtp://user:p%40ss@127.0.0.1:2525?tls=1")
    assert parsed["EMAIL_HOST"] == "127.0.0.1" and parsed["EMAIL_PORT"] == 2525
    assert parsed["EMAIL_HOST_PASSWORD"] == "p@ss" and parsed["EMAIL_USE_TLS"] is True


def test_malformed_email_url_fails_loudly() -> None:
    with pytest.raises(ConfigError):
        parse_email_url("carrier-pigeon://x")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "DATABASE_URL",
            "YINGDU_ENV",
            "YINGDU_VAR_DIR",
            "DJANGO_SETTINGS_MODULE",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        )
    }
    env.update({"YINGDU_VAR_DIR": str(tmp_path / "var")}, **extra)
    return env


def test_production_settings_pass_check_deploy(tmp_path: Path) -> None:
    env = _env(
        tmp_path,
        YINGDU_ENV="production",
        SECRET_KEY="ci-dummy-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFG",
        ALLOWED_HOSTS="yingdu.example.cn",
    )
    result = subprocess.run(
        [YINGDU, "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    env = _env(tmp_path, YINGDU_ENV="production", ALLOWED_HOSTS="yingdu.example.cn")
    result = subprocess.run([YINGDU, "check"], env=env, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_make_run_steps_serve_the_chinese_portal_on_sqlite(tmp_path: Path) -> None:
    """What `make run` does after installing: migrate, load demo data (twice: idempotent), serve."""
    env = _env(tmp_path, YINGDU_ENV="development")
    for _ in range(2):
        subprocess.run([YINGDU, "migrate", "--noinput"], env=env, check=True, capture_output=True, cwd=ROOT)
        demo = subprocess.run([YINGDU, "demo"], env=env, check=True, capture_output=True, text=True, cwd=ROOT)
    assert "演示账号" in demo.stdout and "reviewer" in demo.stdout
    port = _free_port()
    server = subprocess.Popen(
        [YINGDU, "runserver", f"127.0.0.1:{port}", "--noreload"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        body = ""
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    assert response.status == 200
                    body = response.read().decode()
                    break
            except OSError:
                time.sleep(0.2)
        assert "中国影都人工智能算力服务平台" in body
    finally:
        server.terminate()
        server.wait(timeout=10)
