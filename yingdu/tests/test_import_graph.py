"""The import graph: folders are layers (import-linter), and no module takes part in an import
circle, inside a package too; old paths of moved modules are refused by ruff's banned-api rule."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "core",
    "ledger",
    "accounts",
    "enterprises",
    "policy",
    "ledger_web",
    "applications",
    "monitoring",
    "review",
    "audits",
    "reports",
    "demo",
    "yingdu",
    "testing",
    "agent",
    "witness",
)


def circles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterable[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for nxt in successors:
                if nxt not in graph:
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return sorted(found)


def module_graph() -> dict[str, set[str]]:
    """Every module of the platform (tests aside) and the modules it imports, at module level or
    inside a function; imports made only for type checking do not run and are left out."""
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)
    modules = {m for m in graph.modules if ".tests" not in m and not m.endswith(".tests")}
    return {m: set(graph.find_modules_directly_imported_by(m)) & modules for m in modules}


def test_it_finds_an_import_circle() -> None:
    graph = {"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "b": {"a.x"}, "c": {"c"}}
    assert circles(graph) == [["a.x", "a.y", "a.z"]]


def test_no_module_takes_part_in_an_import_circle() -> None:
    graph = module_graph()
    assert {"core.uploads", "review.transitions", "demo.year"} <= set(graph)
    assert circles(graph) == []


def ruff(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    module = tmp_path / "probe.py"
    module.write_text(source, encoding="utf-8")
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "ruff"),
            "check",
            "--config",
            str(ROOT / "pyproject.toml"),
            "--select",
            "TID251",
            "--output-format",
            "concise",
            str(module),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def test_ruff_refuses_an_old_path_of_a_moved_module(tmp_path: Path) -> None:
    result = ruff(tmp_path, "from yingdu.uploads import check_upload\n\ncheck_upload\n")
    assert result.returncode == 1
    assert "TID251 `yingdu.uploads` is banned: moved to core.uploads" in result.stdout


def test_ruff_refuses_a_name_imported_through_a_module_that_does_not_define_it(tmp_path: Path) -> None:
    result = ruff(tmp_path, "from review.actions import resubmit_application\n\nresubmit_application\n")
    assert result.returncode == 1
    assert "TID251 `review.actions.resubmit_application` is banned" in result.stdout


def test_ruff_accepts_the_defining_module(tmp_path: Path) -> None:
    result = ruff(tmp_path, "from core.uploads import check_upload\n\ncheck_upload\n")
    assert result.returncode == 0, result.stdout
