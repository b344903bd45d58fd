"""Test-wide set-up: the test environment, shared fixtures and the PostgreSQL marker."""

from __future__ import annotations

import os
import tempfile

os.environ["YINGDU_ENV"] = "test"
os.environ.setdefault("YINGDU_VAR_DIR", tempfile.mkdtemp(prefix="yingdu-test-var-"))
os.environ.setdefault("HUEY_IMMEDIATE", "1")

import pytest  # noqa: E402

from yingdu.browser import browser, browser_page  # noqa: E402, F401 - Playwright fixtures


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from django.db import connection

    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL; `make test` starts one)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _media_root(settings: object, tmp_path_factory: pytest.TempPathFactory) -> None:
    settings.MEDIA_ROOT = str(tmp_path_factory.mktemp("media"))  # type: ignore[attr-defined]
