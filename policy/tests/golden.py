"""The golden tables: worked subsidy and working-day cases kept beside these tests."""

from __future__ import annotations

import csv
from pathlib import Path

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"


def golden_path(name: str) -> Path:
    """``policy/tests/golden/<name>``; a missing table is an error, never a skip."""
    path = GOLDEN_DIR / name
    if not path.exists():
        raise FileNotFoundError(f"golden table {name} is missing from {GOLDEN_DIR}")
    return path


def golden_rows(name: str) -> list[dict[str, str]]:
    with golden_path(name).open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))
