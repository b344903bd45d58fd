"""Rules the code itself must keep, checked over the platform's Python source."""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "core",
    "ledger_web",
    "demo",
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
            if "tests" in parts or "migrations" in parts:
                continue
            yield path


def parsed() -> Iterator[tuple[Path, ast.Module]]:
    for path in source_files():
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def where(path: Path, node: ast.AST) -> str:
    name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    return f"{name}:{getattr(node, 'lineno', 0)}"


def test_it_scans_the_platform_source() -> None:
    files = {path.relative_to(ROOT).as_posix() for path in source_files()}
    assert {"applications/actions.py", "review/views.py", "core/hooks.py"} <= files
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


CHINESE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
GETTEXT = {"_", "_l", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy", "pgettext", "pgettext_lazy"}
DATA_MARK = "# i18n: data"  # a literal that is data (an accepted input word), not a message
# Modules whose Chinese literals are data or that cannot use Django's translation machinery.
NOT_MESSAGES = {
    "agent/": "the GPU-node agent runs without Django",
    "ledger/offline.py": "the offline verifier runs without Django",
    "ledger/witness_offline.py": "the offline verifier's witness checks run without Django",
    "core/lib/": "Django-free helpers",
    "yingdu/settings.py": "deployment defaults (site name, sender address)",
    "applications/consumption.py": "the column names and scenario words an uploaded detail file may use",
    "applications/forms.py": "platform names offered as suggestions",
    "policy/measures.py": "the clause numbers and words of the measures, quoted as issued",
    "applications/vendor_formats/": "the column names, unit words and vendor names vendor exports use",
    "applications/aigc.py": "vendor names as AIGC labels and declarations write them",
    "accounts/console.py": "a spreadsheet date format",
    "demo/": "the living demo's cast, stories, sample files, ratings, usage and works",
}
# API documentation (OpenAPI summaries and field descriptions) still to be put through gettext:
# the exact count per module, so a new literal fails and a translated one updates the list.
NOT_YET_TRANSLATED = {
    "applications/api.py": 52,
    "monitoring/schemas.py": 23,
    "ledger_web/api.py": 8,
    "monitoring/integrity.py": 4,
    "monitoring/api.py": 5,
    "yingdu/api.py": 2,
    "core/apierrors.py": 2,
    "policy/api.py": 2,
    "audits/api.py": 1,
    "reports/api.py": 1,
    "reports/budget.py": 1,
}


def chinese_outside_gettext(path: Path, tree: ast.Module) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    exempt: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            exempt.add(id(node.value))  # docstrings and other bare strings
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name in GETTEXT:
                exempt.update(id(sub) for arg in node.args for sub in ast.walk(arg))
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and CHINESE.search(node.value)
            and id(node) not in exempt
            and DATA_MARK not in lines[node.lineno - 1]
        ):
            found.append(f"{where(path, node)} {node.value[:30]!r}")
    return found


def test_it_puts_every_chinese_message_in_python_code_through_gettext() -> None:
    per_module: Counter[str] = Counter()
    offending = []
    for path, tree in parsed():
        name = path.relative_to(ROOT).as_posix()
        if any(name.startswith(p) or name.endswith(p) for p in NOT_MESSAGES):
            continue
        found = chinese_outside_gettext(path, tree)
        if name in NOT_YET_TRANSLATED:
            per_module[name] = len(found)
        else:
            offending += found
    assert offending == []
    assert dict(per_module) == NOT_YET_TRANSLATED


def test_it_finds_a_chinese_literal_outside_gettext(tmp_path: Path) -> None:
    module = tmp_path / "views.py"
    module.write_text(
        '"""模块说明。"""\n'
        "from django.utils.translation import gettext as _\n"
        'OK = _("已提交")\n'
        'BAD = {"label": "待初审"}\n'
        'WORD = "是"  # i18n: data\n'
        'TEXT = f"第{1}次"\n',
        encoding="utf-8",
    )
    found = chinese_outside_gettext(module, ast.parse(module.read_text(encoding="utf-8")))
    assert [f.split(" ", 1)[1] for f in found] == ["'待初审'", "'第'", "'次'"]


def test_it_points_comments_at_the_docs_in_the_repository() -> None:
    """Comments cite docs/ (in the repository), never documents that are not in it."""
    outside = re.compile(r"SPEC(\.md)?\s*§|SECURITY\.md")
    cited = re.compile(r"docs/([a-z-]+\.md)")
    stale, missing = [], []
    for path in source_files():
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(ROOT).as_posix()
        if outside.search(text):
            stale.append(name)
        missing += [f"{name}: {doc}" for doc in cited.findall(text) if not (ROOT / "docs" / doc).exists()]
    assert (stale, missing) == ([], [])
    assert (ROOT / "docs" / "glossary.md").exists()


def test_it_derives_test_usccs_deterministically_with_a_valid_check_digit() -> None:
    from stdnum.cn import uscc

    from testing.fixtures import uscc_for, valid_uscc

    assert uscc_for("北京影都智造文化传媒有限公司") == uscc_for("北京影都智造文化传媒有限公司")
    assert uscc_for("甲公司") != uscc_for("乙公司")
    codes = [uscc_for(f"企业{n}") for n in range(50)] + [valid_uscc(n) for n in range(50)]
    assert all(uscc.is_valid(code) for code in codes)


MAX_MODULE_LINES = 600


def test_it_keeps_every_module_under_six_hundred_lines() -> None:
    """A module that grows past this is split along its seams (re-exporting what callers import)."""
    long = {}
    for path in source_files():
        count = len(path.read_text(encoding="utf-8").splitlines())
        if count > MAX_MODULE_LINES:
            long[path.relative_to(ROOT).as_posix()] = count
    assert long == {}


def test_it_computes_an_applications_subsidy_in_one_place() -> None:
    """Drafts, submission, resubmission, approval and the estimate all call ``subsidy_for``; only
    the policy's own calculator (no application behind it) calls the rule directly."""
    callers = sorted(
        path.relative_to(ROOT).as_posix()
        for path, tree in parsed()
        if not path.relative_to(ROOT).as_posix().startswith("policy/")
        and any(
            isinstance(node, ast.Call) and getattr(node.func, "id", "") == "calculate_subsidy"
            for node in ast.walk(tree)
        )
    )
    assert callers == ["applications/subsidy.py"]


def test_it_serves_every_stored_file_through_the_one_audited_download() -> None:
    callers = sorted(
        path.relative_to(ROOT).as_posix()
        for path, tree in parsed()
        if any(
            isinstance(node, ast.Call) and getattr(node.func, "id", "") == "stored_file_response"
            for node in ast.walk(tree)
        )
    )
    assert callers == ["ledger/downloads.py"]


MAIL_SENDERS = {
    "send_mail",
    "send_mass_mail",
    "mail_admins",
    "mail_managers",
    "EmailMessage",
    "EmailMultiAlternatives",
    "get_connection",
}


def mail_senders(tree: ast.Module) -> list[ast.AST]:
    """The calls of Django's mail senders in ``tree``, and the imports of them from its mail package."""
    found: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            # A sender called by its bare name, or on Django's mail package (``mail.send_mail``);
            # another object's method of the same name (the database's ``get_connection``) is not one.
            func = node.func
            if isinstance(func, ast.Attribute):
                name = func.attr if ast.unparse(func.value).split(".")[-1] == "mail" else ""
            else:
                name = getattr(func, "id", "")
            if name in MAIL_SENDERS:
                found.append(node)
        elif (
            isinstance(node, ast.ImportFrom)
            and (node.module or "").startswith("django.core.mail")
            and any(alias.name in MAIL_SENDERS for alias in node.names)
        ):
            found.append(node)
    return found


def test_it_sends_every_message_through_the_one_notifications_module() -> None:
    """The inbox row, the queued e-mail and the text message are ``core.notifications``'s: no other
    module calls ``send_mail``, ``EmailMessage(…)`` or their kin (docs/outbox.md)."""
    offending = [
        where(path, node)
        for path, tree in parsed()
        if path.relative_to(ROOT).as_posix() != "core/notifications.py"
        for node in mail_senders(tree)
    ]
    assert offending == []


def test_it_finds_a_raw_send_mail_outside_the_notifications_module() -> None:
    tree = ast.parse(
        "from django.core import mail\n"
        "from django.core.mail import EmailMessage\n"
        "def tell(to):\n"
        "    mail.send_mail('s', 'b', 'f', [to])\n"
        "    EmailMessage('s', 'b', 'f', [to]).send()\n"
    )
    assert [getattr(node, "lineno", 0) for node in mail_senders(tree)] == [2, 4, 5]
    assert (
        mail_senders(ast.parse("from core.notifications import queue_email\nqueue_email('s', 'b', [])\n"))
        == []
    )


ACTION_MODULES = (
    "accounts/actions.py",
    "enterprises/actions.py",
    "enterprises/oidc.py",
    "policy/actions.py",
    "applications/actions.py",
    "applications/works.py",
    "applications/clips.py",
    "monitoring/actions.py",
    "monitoring/ingest.py",
    "monitoring/usage_lines.py",
    "review/actions.py",
    "review/resubmission.py",
    "review/offers.py",
    "review/offer_deadlines.py",
    "review/payment_batches.py",
    "review/ratings.py",
    "review/reminders.py",
    "audits/findings.py",
    "audits/fraud.py",
    "audits/spotchecks.py",
    "reports/actions.py",
)
ACTION_FRAMES = {"durable", "batch", "performing"}


def plain_transactions(tree: ast.Module) -> list[ast.AST]:
    """``transaction.atomic`` in a public function outside the block of a durable action frame
    (``core.transactions.durable``/``batch``, review's ``performing``): a top-level action that is
    not durable. Inside a frame it is a savepoint; a private helper is a step of an action."""
    found: list[ast.AST] = []

    def is_atomic(node: ast.AST) -> bool:
        target = node.func if isinstance(node, ast.Call) else node
        return isinstance(target, ast.Attribute) and target.attr == "atomic"

    def frames(node: ast.With) -> bool:
        return any(
            isinstance(item.context_expr, ast.Call | ast.IfExp)
            and any(
                isinstance(call, ast.Call) and getattr(call.func, "id", "") in ACTION_FRAMES
                for call in ast.walk(item.context_expr)
            )
            for item in node.items
        )

    def visit(node: ast.AST, framed: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.With):
                if not framed and any(is_atomic(item.context_expr) for item in child.items):
                    found.append(child)
                visit(child, framed or frames(child))
            else:
                visit(child, framed)

    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            found += [d for d in node.decorator_list if is_atomic(d)]
            visit(node, False)
    return found


def test_it_opens_every_top_level_action_in_a_durable_transaction() -> None:
    """Every public function of an action module that opens a transaction opens a durable one
    (docs/states.md, "Actions"); a plain ``transaction.atomic`` is only a savepoint inside it."""
    offending = [
        f"{name}:{getattr(node, 'lineno', 0)}"
        for name in ACTION_MODULES
        for node in plain_transactions(ast.parse((ROOT / name).read_text(encoding="utf-8")))
    ]
    assert offending == []


def test_it_finds_an_action_that_opens_a_plain_transaction() -> None:
    tree = ast.parse(
        "@transaction.atomic\n"
        "def a(): pass\n"
        "def b():\n"
        "    with transaction.atomic():\n"
        "        pass\n"
        "def c():\n"
        "    with durable():\n"
        "        with transaction.atomic():\n"
        "            pass\n"
        "def _step():\n"
        "    with transaction.atomic():\n"
        "        pass\n"
    )
    assert [getattr(node, "lineno", 0) for node in plain_transactions(tree)] == [1, 4]
