"""Fixtures of the policy tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from policy.loader import DEFAULT_DIRECTORY


@pytest.fixture
def parameters_copy(tmp_path: Path) -> Path:
    """A writable copy of policy/parameters/ for tests that add a policy version."""
    target = tmp_path / "parameters"
    shutil.copytree(DEFAULT_DIRECTORY, target)
    return target
