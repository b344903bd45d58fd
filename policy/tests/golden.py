"""The shared golden tables (``../shared/golden/`` beside the repository)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.conf import settings


def golden_path(name: str) -> Path:
    """``shared/golden/<name>``; the test is skipped, saying why, when the folder is absent."""
    path = Path(settings.BASE_DIR).parent / "shared" / "golden" / name
    if not path.exists():
        pytest.skip(f"golden table {name} not found beside the repository (expected at ../shared/golden/)")
    return path


def golden_rows(name: str) -> list[dict[str, str]]:
    with golden_path(name).open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))
