"""Backup and restore drill (docs/security.md, 等保 2.0 数据备份恢复).

A backup folder holds:

- ``data.exactjson.gz``: every table the platform owns (``dumpdata``, role groups by name; content
  types, permissions, sessions and lockout counters are rebuilt, not restored), as JSON that
  keeps datetimes to the microsecond (``yingdu/exactjson.py``), since an audit event must stay
  equal to its ledger entry;
- ``media/``: the uploaded files, byte for byte;
- ``manifest.json``: when, row counts per model, the ledger's tree size and root hash, and the
  SHA-256 of every file above.

``restore`` loads a backup into an empty database and then proves it: the manifest's hashes
match, every model has the counted rows, the recomputed ledger root equals the one recorded, and the whole log verifies (audit events
included).
The ledger signing key is not in the backup: keep it with the server's secrets.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import shutil
import sys
from io import StringIO
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

# Rebuilt on migrate (role groups, permissions, content types) or not worth keeping (sessions,
# lockout counters). Primary keys are kept for everything restored: audit events and ledger
# entries name rows by id, so a restored row must keep its id.
EXCLUDED = ["contenttypes", "auth.permission", "auth.group", "sessions", "admin.logentry", "axes", "otp_totp"]


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


def create_backup(target: Path) -> dict[str, Any]:
    """Write a backup into ``target`` (which must not exist or be empty); returns the manifest."""
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty")
    target.mkdir(parents=True, exist_ok=True)
    with transaction.atomic():
        # One snapshot: the counts, the ledger head and the dump see the same data.
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
    with gzip.open(target / "data.exactjson.gz", "wt", encoding="utf-8") as handle:
        handle.write(out.getvalue())
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
    return manifest


def check_backup(source: Path) -> dict[str, Any]:
    """The manifest, after checking every file's SHA-256 against it."""
    manifest: dict[str, Any] = json.loads((source / "manifest.json").read_text())
    actual = _files(source)
    actual.pop("manifest.json", None)
    if actual != manifest["files"]:
        changed = sorted(set(actual.items()) ^ set(manifest["files"].items()))
        raise BackupError(f"backup files differ from the manifest: {changed[:5]}")
    return manifest


def restore_backup(source: Path) -> dict[str, Any]:
    """Load a checked backup into an empty database and prove the result identical."""
    manifest = check_backup(source)
    if any(
        _counts().get(label, 0) for label in ("accounts.User", "applications.Application", "ledger.Entry")
    ):
        raise BackupError("the database is not empty; restore only into a new database")
    with transaction.atomic():
        call_command("loaddata", str(source / "data.exactjson.gz"), verbosity=0)
    media = source / "media"
    if media.exists():
        shutil.copytree(media, Path(settings.MEDIA_ROOT), dirs_exist_ok=True)
    counts = _counts()
    if counts != manifest["counts"]:
        diff = {
            k: (manifest["counts"].get(k), v) for k, v in counts.items() if manifest["counts"].get(k) != v
        }
        raise BackupError(f"row counts differ after restore: {diff}")
    head = _ledger_head()
    if head != manifest["ledger"]:
        raise BackupError(f"ledger head differs after restore: {head} != {manifest['ledger']}")
    from ledger.verify import verify_log

    result = verify_log()
    if not result.ok:
        raise BackupError(f"the restored ledger does not verify: {result.problems[:3]}")
    return manifest
