"""Loaded by pytest with ``-p`` (see pyproject.toml) before pytest-django imports the settings,
so that the whole suite runs with the test environment and a throw-away var/ folder."""

from __future__ import annotations

import os
import tempfile

os.environ["YINGDU_ENV"] = "test"
os.environ.setdefault("YINGDU_VAR_DIR", tempfile.mkdtemp(prefix="yingdu-test-var-"))
os.environ.setdefault("HUEY_IMMEDIATE", "1")
