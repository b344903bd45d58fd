"""Fixtures of the accounts tests: a real OpenID provider on loopback (``accounts.tests.idp``)."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from testing.fixtures import USCC_A, USCC_C

REPO = Path(__file__).resolve().parents[2]
IDP_PASSWORD = "Idp-test-Passw0rd!"
IDP_CLIENT_ID = "yingdu-platform"
IDP_CLIENT_SECRET = "yingdu-platform-secret-for-tests"
# The provider's people: a legal representative and a handler of a registered enterprise (USCC_A),
# the legal representative of an unregistered one (USCC_C), and two staff members.
IDP_USERS: list[dict[str, Any]] = [
    {
        "username": "zhangsan",
        "claims": {
            "name": "张三",
            "email": "zhangsan@example.cn",
            "uscc": USCC_A,
            "legal_representative": True,
        },
    },
    {"username": "lisi", "claims": {"name": "李四", "email": "lisi@example.cn", "uscc": USCC_A}},
    {
        "username": "qianqi",
        "claims": {
            "name": "钱七",
            "email": "qianqi@example.cn",
            "phone_number": "+8613800138001",
            "uscc": USCC_C,
            "legal_representative": True,
        },
    },
    {"username": "chen", "claims": {"name": "陈初审", "email": "chen@example.cn", "amr": ["pwd", "otp"]}},
    {"username": "wu", "claims": {"name": "吴复审", "email": "wu@example.cn", "amr": ["pwd"]}},
]


@dataclass(frozen=True)
class IdentityProvider:
    url: str

    @property
    def issuer(self) -> str:
        return self.url + "/o"

    def misbehave(self, mode: str) -> None:
        """Spoil the next ID tokens: "forged", "expired", "nonce", "issuer"; "" to stop."""
        import requests

        requests.post(self.url + "/test/mode/", data={"id_token": mode}, timeout=10).raise_for_status()


@pytest.fixture(scope="session")
def identity_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentityProvider]:
    """The test OpenID provider in a subprocess on 127.0.0.1 (started once, stopped at the end)."""
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(
        IDP_DB=str(tmp_path_factory.mktemp("idp") / "idp.sqlite3"),
        IDP_USERS=json.dumps([u | {"password": IDP_PASSWORD} for u in IDP_USERS]),
        IDP_CLIENT_ID=IDP_CLIENT_ID,
        IDP_CLIENT_SECRET=IDP_CLIENT_SECRET,
        IDP_REDIRECT_URIS=" ".join(
            f"http://{host}/login/oidc/callback/" for host in ("testserver", "localhost", "127.0.0.1")
        ),
        PYTHONPATH=str(REPO),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "accounts.tests.idp.serve"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready, _w, _x = select.select([process.stdout], [], [], 60)
        line = process.stdout.readline() if ready else ""
        if not line.startswith("READY "):
            process.kill()
            _out, err = process.communicate(timeout=10)
            raise RuntimeError(f"the test identity provider did not start: {line!r} {err[-2000:]}")
        yield IdentityProvider(url=f"http://127.0.0.1:{int(line.split()[1])}")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def oidc(settings: Any, identity_provider: IdentityProvider) -> Iterator[IdentityProvider]:
    """The platform configured for the test provider, which behaves until a test says otherwise."""
    settings.OIDC_ISSUER = identity_provider.issuer
    settings.OIDC_CLIENT_ID = IDP_CLIENT_ID
    settings.OIDC_CLIENT_SECRET = IDP_CLIENT_SECRET
    identity_provider.misbehave("")
    yield identity_provider
    identity_provider.misbehave("")
