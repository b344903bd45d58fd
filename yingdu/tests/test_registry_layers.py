"""No app reaches a higher layer through Django's app registry, where import-linter cannot see it.

The layers contract (``[tool.importlinter]`` in pyproject.toml) checks imports. A model looked
up by its label — ``apps.get_model("applications", "Application")`` — is a dependency too, one
the linter never sees; so the platform's modules (tests and migrations aside) are scanned for
such look-ups, and one of an app in a higher layer than the module's own package fails. (The
money sums of applications live in ``applications.money``; policy, below it, asks for what an
enterprise keeps through ``core.hooks``.) Relations declared by label (the user's enterprise)
are the schema's, not a module's reach, and are left to the models.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from django.apps import apps

from yingdu.tests.test_codebase import ROOT, parsed, where


def layer_ranks() -> dict[str, int]:
    """Each package of the layers contract and its height (0 the lowest)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contract = next(c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")
    ranks: dict[str, int] = {}
    for height, layer in enumerate(reversed(contract["layers"])):
        for name in layer.replace("|", ":").split(":"):
            ranks[name.strip()] = height
    return ranks


def label_of(node: ast.Call) -> str | None:
    """The app label a ``get_model`` call names with a string, if any (a label computed at run
    time, as the backup's, names no app here)."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if name != "get_model" or not node.args:
        return None
    first = node.args[0]
    if not isinstance(first, ast.Constant) or not isinstance(first.value, str):
        return None
    return first.value.split(".")[0]


def upward_reaches(files: list[tuple[Path, ast.Module]]) -> list[str]:
    ranks = layer_ranks()
    found = []
    for path, tree in files:
        package = path.relative_to(ROOT).parts[0] if path.is_relative_to(ROOT) else path.parts[-2]
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or (label := label_of(node)) is None:
                continue
            try:
                target = apps.get_app_config(label).name.split(".")[0]
            except LookupError:
                continue  # a third-party app (auth, contenttypes): below every package
            if package in ranks and target in ranks and ranks[target] > ranks[package]:
                found.append(f"{where(path, node)} {package} reaches {target} through the app registry")
    return found


def test_it_never_reaches_a_higher_app_through_the_app_registry() -> None:
    assert upward_reaches(list(parsed())) == []


def test_it_finds_a_lower_app_reaching_a_higher_app_by_label(tmp_path: Path) -> None:
    source = (
        "from django.apps import apps\n"
        "from django.db import models\n"
        "Application = apps.get_model('applications', 'Application')\n"
        "Payment = apps.get_model('review.Payment')\n"
        "fine = apps.get_model('enterprises.Enterprise')\n"
        "lower = apps.get_model('yingdu', 'OutboxEmail')\n"
    )
    path = tmp_path / "policy" / "queries.py"
    path.parent.mkdir()
    path.write_text(source, encoding="utf-8")
    found = upward_reaches([(path, ast.parse(source))])
    assert [line.split(" ", 1)[1] for line in found] == [
        "policy reaches applications through the app registry",
        "policy reaches review through the app registry",
    ]
