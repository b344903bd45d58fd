"""Backup and restore drill (docs/security.md): a restore reproduces the data, files and ledger exactly."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management import call_command

from enterprises import actions as enterprise_actions
from enterprises.models import Enterprise
from ledger import services
from ledger.actions import record_event
from ledger.models import AuditEvent
from ledger.verify import verify_log
from yingdu.backup import BackupError, check_backup, create_backup, restore_backup
from yingdu.test import USCC_C, pdf_bytes
from yingdu.uploads import CheckedUpload


def _register() -> Enterprise:
    content = pdf_bytes()
    checked = CheckedUpload(content, "application/pdf", hashlib.sha256(content).hexdigest(), "执照.pdf")
    data = {
        "name": "北京初映数字影像有限公司",
        "uscc": USCC_C,
        "registered_address": "北京市怀柔区雁栖镇1号",
        "operating_address": "北京市怀柔区雁栖镇1号",
        "legal_rep_name": "赵六",
        "legal_rep_phone": "+8613800138000",
        "handler_name": "孙七",
        "handler_phone": "+8613900139000",
        "handler_email": "sunqi@example.cn",
    }
    enterprise, user = enterprise_actions.register_enterprise(
        data, checked, username="sunqi", password="Chuying#2026"
    )
    record_event("test.backup_drill", actor=user, obj=enterprise, after={"note": "备份演练"})
    return enterprise


@pytest.mark.django_db(transaction=True)
def test_a_restore_reproduces_rows_files_and_the_ledger(tmp_path: Path) -> None:
    enterprise = _register()
    licence = default_storage.open(str(enterprise.license_file.name), "rb").read()
    events = AuditEvent.objects.count()
    head = (services.tree_size(), services.root_at(services.tree_size()))

    manifest = create_backup(tmp_path / "backup")
    assert manifest["counts"]["enterprises.Enterprise"] == 1
    assert manifest["ledger"]["tree_size"] == head[0]

    # Disaster: the database and the upload store are gone.
    call_command("flush", "--noinput")
    shutil.rmtree(settings.MEDIA_ROOT)
    assert Enterprise.objects.count() == 0

    restore_backup(tmp_path / "backup")
    restored = Enterprise.objects.get(uscc=USCC_C)
    assert default_storage.open(str(restored.license_file.name), "rb").read() == licence
    assert AuditEvent.objects.count() == events
    assert (services.tree_size(), services.root_at(services.tree_size())) == head
    assert verify_log().ok


@pytest.mark.django_db(transaction=True)
def test_a_tampered_backup_is_refused(tmp_path: Path) -> None:
    _register()
    create_backup(tmp_path / "backup")
    media = next(p for p in (tmp_path / "backup" / "media").rglob("*") if p.is_file())
    media.write_bytes(media.read_bytes() + b"x")
    with pytest.raises(BackupError, match="differ from the manifest"):
        check_backup(tmp_path / "backup")


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_a_database_that_is_not_empty(tmp_path: Path) -> None:
    _register()
    create_backup(tmp_path / "backup")
    with pytest.raises(BackupError, match="not empty"):
        restore_backup(tmp_path / "backup")
