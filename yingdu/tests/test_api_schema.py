"""schemathesis over /api/v1/openapi.json against a live server: no 5xx, every answer as the schema declares.

Every operation of the schema, with generated valid and invalid requests, as an anonymous client,
with a provider's API token and with an applicant's session (cookie and CSRF token). Examples
per operation are bounded so that the three runs together take a minute or two.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests
import schemathesis
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from applications.tests.factories import make_draft
from enterprises.models import Provider
from monitoring.actions import issue_token
from monitoring.ingest import record_usage_batch
from monitoring.tests.factories import hourly, make_node
from testing.fixtures import USCC_A, make_enterprise, make_user

EXAMPLES = 6  # per operation, per generation mode, per way of authenticating
CSRF_SECRET = "a" * 32  # noqa: S105 - a CSRF secret of the test client, sent as cookie and header
CHECKS: list[Callable[..., Any]] = [not_a_server_error, response_schema_conformance]


@pytest.fixture
def seeded(transactional_db: None, live_server: Any) -> dict[str, Any]:
    """A live server over a database with an applicant and a draft, a provider with a token and usage."""
    from accounts.roles import Role

    enterprise = make_enterprise("北京影都智造文化传媒有限公司", USCC_A)
    alice = make_user("alice", Role.APPLICANT, enterprise=enterprise, email="alice@example.cn")
    make_draft(alice, work_title="龙城夜雨")
    provider = Provider.objects.create(name="怀柔智算中心", status=Provider.Status.APPROVED)
    _node, key = make_node(provider)
    _token, raw_token = issue_token(provider, actor=None, name="schema")
    start = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    record_usage_batch(provider, hourly(key, 3, start=start), actor_repr="test")
    client = Client()
    client.force_login(alice)
    return {
        "url": live_server.url,
        "token": raw_token,
        "session": client.cookies["sessionid"].value,
    }


def _session(mode: str, seeded: dict[str, Any]) -> tuple[requests.Session, dict[str, str]]:
    session = requests.Session()
    headers: dict[str, str] = {}
    if mode == "token":
        headers["Authorization"] = f"Bearer {seeded['token']}"
    elif mode == "session":
        session.cookies.set("sessionid", seeded["session"])
        session.cookies.set("csrftoken", CSRF_SECRET)
        headers["X-CSRFToken"] = CSRF_SECRET
    return session, headers


def _run_operation(operation: Any, base_url: str, session: requests.Session, headers: dict[str, str]) -> None:
    strategy = st.one_of(
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=2 * EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        # The way of authenticating under test wins over whatever the case generated.
        case.headers = {**(case.headers or {}), **headers}
        if "Authorization" not in headers:
            case.headers.pop("Authorization", None)
        response = case.call(base_url=base_url, session=session, timeout=30)
        case.validate_response(response, checks=CHECKS)

    check()


@pytest.mark.postgres
@pytest.mark.parametrize("mode", ["anonymous", "token", "session"])
def test_it_answers_every_operation_without_server_errors_and_as_declared(
    seeded: dict[str, Any], mode: str
) -> None:
    schema = schemathesis.openapi.from_url(f"{seeded['url']}/api/v1/openapi.json")
    session, headers = _session(mode, seeded)
    # The way of authenticating works: the session lists applications, the token reads receipts.
    mine = session.get(f"{seeded['url']}/api/v1/applications/", headers=headers, timeout=30)
    receipt = session.get(
        f"{seeded['url']}/api/v1/usage/receipts/{uuid.uuid4()}", headers=headers, timeout=30
    )
    assert (mine.status_code, receipt.status_code) == {
        "anonymous": (401, 401),
        "token": (401, 404),
        "session": (200, 401),
    }[mode]
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]  # an unreadable operation fails here
    assert len(operations) >= 20
    failures: list[str] = []
    for operation in operations:
        try:
            _run_operation(operation, seeded["url"], session, headers)
        except Exception as exc:  # every failing operation is reported, not only the first
            failures.append(f"{operation.label}: {exc}"[:2000])
    assert not failures, "\n\n".join(failures)
