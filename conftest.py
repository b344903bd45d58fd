"""Test-wide set-up: the test environment, shared fixtures and the PostgreSQL marker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from testing.browser import browser, browser_page, new_page  # noqa: E402, F401 - Playwright fixtures
from testing.demo_year import demo_year, played_demo  # noqa: E402, F401 - the demo year, played once


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import os

    from django.db import connection

    skip_postgres = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL; `make test` starts one)")
    skip_redis = pytest.mark.skip(reason="needs Redis (set REDIS_URL; `make test` starts one)")
    for item in items:
        if "postgres" in item.keywords and connection.vendor != "postgresql":
            item.add_marker(skip_postgres)
        elif "redis" in item.keywords and not os.environ.get("REDIS_URL"):
            item.add_marker(skip_redis)


@pytest.fixture(autouse=True)
def _media_root(settings: object, tmp_path_factory: pytest.TempPathFactory) -> None:
    settings.MEDIA_ROOT = str(tmp_path_factory.mktemp("media"))  # type: ignore[attr-defined]


@pytest.fixture(scope="session", autouse=True)
def _close_stray_connections(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Before the test database is dropped, end connections that threads of the suite left open
    (the live server's, worker threads of concurrency tests), so teardown does not warn."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
