"""Backup and restore drill (docs/security.md, 等保 2.0 数据备份恢复).

A backup folder holds:

- ``data.exactjson.gz``: every table the platform owns (``dumpdata``, role groups by name; content
  types, permissions, sessions and lockout counters are rebuilt, not restored), as JSON that
  keeps datetimes to the microsecond (``core/exactjson.py``), since an audit event must stay
  equal to its ledger entry;
- ``media/``: the uploaded files, byte for byte;
- ``manifest.json``: when, row counts per model, the ledger's tree size and root hash, and the
  SHA-256 of every file above.

The dump and the manifest are taken in one snapshot: on PostgreSQL one ``REPEATABLE READ READ
ONLY`` transaction, so rows written while the backup runs are in neither or both. ``check``
proves a backup before anything is loaded: every file's SHA-256, the dump's rows per model against
the manifest's counts, and the ledger root recomputed from the dump's entries. ``restore`` migrates
an empty database first if it has no tables, then loads the dump, checks the counts, the root and
``ledger verify`` inside one transaction, and commits only if all hold: a backup that fails any
check leaves the database as it was. The staff's TOTP authenticators are in the backup (their
secrets too: the files are readable by their owner only, 0600 in a 0700 folder), so staff sign in
after a restore as before.
The ledger signing key is not in the backup: keep it with the server's secrets.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import shutil
import sys
from io import StringIO
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

# Rebuilt on migrate (role groups, permissions, content types) or not worth keeping (sessions,
# lockout counters). Primary keys are kept for everything restored: audit events and ledger
# entries name rows by id, so a restored row must keep its id.
EXCLUDED = ["contenttypes", "auth.permission", "auth.group", "sessions", "admin.logentry", "axes"]
# Models restored although their app lives outside the project folder: the staff's authenticators.
EXTRA_MODELS = ["otp_totp.TOTPDevice"]
DUMP = "data.exactjson.gz"


class BackupError(RuntimeError):
    """A backup cannot be written, or a restore cannot be proven identical."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _counts() -> dict[str, int]:
    """Rows per model of the platform's own apps (those inside the project folder)."""
    counts = {}
    for config in apps.get_app_configs():
        path = Path(config.path)
        # The virtual environment may sit inside the project folder: its apps are not ours.
        if not path.is_relative_to(settings.BASE_DIR) or path.is_relative_to(sys.prefix):
            continue
        for model in config.get_models():
            counts[model._meta.label] = model._default_manager.count()
    for label in EXTRA_MODELS:
        counts[label] = apps.get_model(label)._default_manager.count()
    return counts


def _ledger_head() -> dict[str, Any]:
    from ledger import services

    size = services.tree_size()
    root = services.root_at(size) if size else b""
    return {"tree_size": size, "root_hash": base64.b64encode(root).decode()}


def _files(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): _sha256(path) for path in sorted(folder.rglob("*")) if path.is_file()
    }


def _private_folder(folder: Path) -> None:
    """Owner-only permissions on a backup folder and everything in it (0700 folders, 0600 files)."""
    folder.chmod(0o700)
    for path in folder.rglob("*"):
        path.chmod(0o700 if path.is_dir() else 0o600)


def _snapshot() -> None:
    """Make the current transaction one snapshot of the whole database (its first statement)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


def create_backup(target: Path) -> dict[str, Any]:
    """Write a backup into ``target`` (which must not exist or be empty); returns the manifest.
    Everything is created readable by its owner only (umask 077), then checked to be so."""
    previous = os.umask(0o077)
    try:
        return _create_backup(target)
    finally:
        os.umask(previous)


def _create_backup(target: Path) -> dict[str, Any]:
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty")
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    target.chmod(0o700)
    with transaction.atomic():
        # One snapshot: the counts, the ledger head and the dump see the same data.
        _snapshot()
        counts = _counts()
        head = _ledger_head()
        out = StringIO()
        call_command(
            "dumpdata",
            "--natural-foreign",
            "--format=exactjson",
            *[f"--exclude={name}" for name in EXCLUDED],
            stdout=out,
        )
    fd = os.open(target / DUMP, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as raw, gzip.open(raw, "wt", encoding="utf-8") as handle:
        handle.write(out.getvalue())
    del out
    media = Path(settings.MEDIA_ROOT)
    if media.exists():
        shutil.copytree(media, target / "media")
    manifest = {
        "created_at": timezone.now().isoformat(),
        "counts": counts,
        "ledger": head,
        "files": _files(target),
    }
    (target / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
    _private_folder(target)
    return manifest


def _dump_facts(source: Path) -> tuple[dict[str, int], dict[str, Any]]:
    """The rows per model in a backup's dump, and the ledger head recomputed from its entries."""
    from ledger import merkle

    with gzip.open(source / DUMP, "rt", encoding="utf-8") as handle:
        objects = json.load(handle)
    counts: dict[str, int] = {}
    entries: dict[int, bytes] = {}
    size, alg = 0, settings.LEDGER_HASH
    for obj in objects:
        label = apps.get_model(obj["model"])._meta.label
        counts[label] = counts.get(label, 0) + 1
        if label == "ledger.Entry":
            entries[int(obj["pk"])] = base64.b64decode(obj["fields"]["data"])
        elif label == "ledger.LogState":
            size, alg = int(obj["fields"]["size"]), obj["fields"]["hash_alg"]
    if sorted(entries)[:size] != list(range(size)):
        raise BackupError(f"the dump lacks ledger entries below the tree size {size}")
    root = merkle.root([merkle.leaf_hash(entries[i], alg) for i in range(size)], alg) if size else b""
    return counts, {"tree_size": size, "root_hash": base64.b64encode(root).decode()}


def check_backup(source: Path) -> dict[str, Any]:
    """The manifest, after checking every file's SHA-256 against it, the dump's rows per model
    against its counts, and the ledger root recomputed from the dump against its root."""
    manifest: dict[str, Any] = json.loads((source / "manifest.json").read_text())
    actual = _files(source)
    actual.pop("manifest.json", None)
    if actual != manifest["files"]:
        changed = sorted(set(actual.items()) ^ set(manifest["files"].items()))
        raise BackupError(f"backup files differ from the manifest: {changed[:5]}")
    try:
        counts, head = _dump_facts(source)
    except (OSError, EOFError, ValueError, KeyError, LookupError) as exc:
        raise BackupError(f"the dump cannot be read: {exc}") from exc
    # Proxy models share their concrete model's table and are not dumped on their own.
    dumped = {label for label in manifest["counts"] if not apps.get_model(label)._meta.proxy}
    expected = {label: manifest["counts"][label] for label in dumped if manifest["counts"][label]}
    counts = {label: n for label, n in counts.items() if label in manifest["counts"]}
    if counts != expected:
        diff = {
            k: (expected.get(k), counts.get(k))
            for k in sorted(set(counts) | set(expected))
            if counts.get(k) != expected.get(k)
        }
        raise BackupError(f"the dump's rows differ from the manifest's counts: {diff}")
    if head != manifest["ledger"]:
        raise BackupError(f"the dump's ledger head differs from the manifest: {head} != {manifest['ledger']}")
    return manifest


def _migrate_if_new() -> bool:
    """Create the schema of a database that has none (a new, empty database); True if it did."""
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    if not executor.migration_plan(executor.loader.graph.leaf_nodes()):
        return False
    if set(connection.introspection.table_names()) - {"django_migrations"}:
        raise BackupError("the database's schema is not up to date: run `yingdu migrate` first")
    call_command("migrate", interactive=False, verbosity=0)
    return True


def restore_backup(source: Path) -> dict[str, Any]:
    """Load a checked backup into an empty database and prove the result identical before
    committing it; any failure leaves the database and the upload folder as they were."""
    manifest = check_backup(source)
    migrated = _migrate_if_new()
    if any(
        _counts().get(label, 0) for label in ("accounts.User", "applications.Application", "ledger.Entry")
    ):
        raise BackupError("the database is not empty; restore only into a new database")
    from ledger.verify import verify_log

    media = source / "media"
    copied: list[Path] = []
    try:
        with transaction.atomic():
            call_command("loaddata", str(source / DUMP), verbosity=0)
            counts = _counts()
            if counts != manifest["counts"]:
                diff = {
                    k: (manifest["counts"].get(k), v)
                    for k, v in counts.items()
                    if manifest["counts"].get(k) != v
                }
                raise BackupError(f"row counts differ after restore: {diff}")
            head = _ledger_head()
            if head != manifest["ledger"]:
                raise BackupError(f"ledger head differs after restore: {head} != {manifest['ledger']}")
            result = verify_log()
            if not result.ok:
                raise BackupError(f"the restored ledger does not verify: {result.problems[:3]}")
            if media.exists():
                root = Path(settings.MEDIA_ROOT)
                for path in sorted(media.rglob("*")):
                    if path.is_file():
                        target = root / path.relative_to(media)
                        if not target.exists():
                            target.parent.mkdir(parents=True, exist_ok=True)
                            shutil.copyfile(path, target)
                            copied.append(target)
                            # The upload store's own mode, not the backup's owner-only one.
                            target.chmod(settings.FILE_UPLOAD_PERMISSIONS or 0o644)
    except BaseException:
        for path in copied:
            path.unlink(missing_ok=True)
        raise
    return {**manifest, "migrated": migrated}
