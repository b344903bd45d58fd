"""Fixtures of the review tests: the loopback SMTP server and a fast password hasher."""

from __future__ import annotations

from typing import Any

import pytest

from core.smtp import smtp_server  # noqa: F401 - fixture

# Users are created in almost every test here; a slow password hash makes that seconds each.
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Any) -> None:
    settings.PASSWORD_HASHERS = FAST_HASHERS
