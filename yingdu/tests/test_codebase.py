"""Rules the code itself must keep, checked over the platform's Python source."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "yingdu",
    "accounts",
    "enterprises",
    "policy",
    "ledger",
    "applications",
    "monitoring",
    "review",
    "audits",
    "reports",
    "agent",
)


def source_files() -> Iterator[Path]:
    """The platform's modules, without tests and migrations."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).parts
            if "tests" in parts or "migrations" in parts or path.name == "test.py":
                continue
            yield path


def parsed() -> Iterator[tuple[Path, ast.Module]]:
    for path in source_files():
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"


def test_it_scans_the_platform_source() -> None:
    files = {path.relative_to(ROOT).as_posix() for path in source_files()}
    assert {"applications/actions.py", "review/views.py", "yingdu/hooks.py"} <= files
    assert not any("/tests/" in name or "/migrations/" in name for name in files)


def test_it_defers_every_after_commit_callback_robustly() -> None:
    """A failing callback (a mail server down) must never stop the others: ``robust=True``; and not
    ``functools.partial``, which Django cannot name when it logs the failure."""
    offending = []
    for path, tree in parsed():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name != "on_commit":
                continue
            robust = any(
                k.arg == "robust" and isinstance(k.value, ast.Constant) and k.value.value is True
                for k in node.keywords
            )
            callback = node.args[0] if node.args else None
            is_partial = isinstance(callback, ast.Call) and "partial" in ast.unparse(callback.func)
            if not robust or is_partial:
                offending.append(where(path, node))
    assert offending == []
