"""``yingdu backup create DIR | check DIR | restore DIR``: see ``yingdu/backup.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from yingdu.backup import BackupError, check_backup, create_backup, restore_backup


class Command(BaseCommand):
    help = _("备份与恢复：数据库、上传材料与日志根哈希，恢复后校验一致")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        for verb in ("create", "check", "restore"):
            sub.add_parser(verb).add_argument("folder", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        folder: Path = options["folder"]
        action = {"create": create_backup, "check": check_backup, "restore": restore_backup}[options["verb"]]
        try:
            manifest = action(folder)
        except (BackupError, OSError, KeyError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if manifest.get("migrated"):
            self.stdout.write("the database had no tables: migrated before the restore")
        ledger = manifest["ledger"]
        rows = sum(manifest["counts"].values())
        self.stdout.write(
            f"{options['verb']} OK: {rows} rows, {len(manifest['files'])} files, "
            f"ledger size {ledger['tree_size']} root {ledger['root_hash']}"
        )
