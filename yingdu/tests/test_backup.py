"""Backup and restore drill (docs/security.md): a restore reproduces the data, files and ledger exactly."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import json
import shutil
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse

from accounts.models import User
from accounts.roles import Role
from core.uploads import CheckedUpload
from enterprises import actions as enterprise_actions
from enterprises.models import Enterprise, Provider
from ledger import services
from ledger.actions import record_event
from ledger.models import AuditEvent
from ledger.verify import verify_log
from monitoring.models import UsageRecord
from testing.fixtures import PASSWORD, USCC_A, USCC_C, make_enterprise, make_user, pdf_bytes
from yingdu.backup import BackupError, check_backup, create_backup, restore_backup


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


# --- snapshots, checks before loading, restores that commit only when proven ----------------------


def _edit_dump(folder: Path, edit: Callable[[list[dict[str, Any]]], object]) -> None:
    """Change the dump of a backup and write its new hash into the manifest, as a forger would."""
    dump = folder / "data.exactjson.gz"
    with gzip.open(dump, "rt", encoding="utf-8") as handle:
        objects = json.load(handle)
    edit(objects)
    with gzip.open(dump, "wt", encoding="utf-8") as handle:
        json.dump(objects, handle, ensure_ascii=False)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["data.exactjson.gz"] = hashlib.sha256(dump.read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _assert_untouched() -> None:
    assert not User.objects.exists()
    assert not Enterprise.objects.exists()
    assert services.tree_size() == 0
    assert not any(p.is_file() for p in Path(settings.MEDIA_ROOT).rglob("*"))


@pytest.mark.django_db(transaction=True)
def test_backup_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    _register()
    create_backup(tmp_path / "backup")
    assert stat.S_IMODE((tmp_path / "backup").stat().st_mode) == 0o700
    for path in (tmp_path / "backup").rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path


@pytest.mark.django_db(transaction=True)
def test_check_refuses_a_dump_that_disagrees_with_the_manifest(tmp_path: Path) -> None:
    _register()
    create_backup(tmp_path / "backup")
    _edit_dump(tmp_path / "backup", lambda objects: objects.pop())
    with pytest.raises(BackupError, match="rows differ from the manifest"):
        check_backup(tmp_path / "backup")


@pytest.mark.django_db(transaction=True)
def test_a_corrupted_backup_leaves_the_target_database_untouched(tmp_path: Path) -> None:
    _register()
    create_backup(tmp_path / "flipped")
    create_backup(tmp_path / "forged")
    call_command("flush", "--noinput")
    shutil.rmtree(settings.MEDIA_ROOT)
    Path(settings.MEDIA_ROOT).mkdir()

    dump = tmp_path / "flipped" / "data.exactjson.gz"
    content = bytearray(dump.read_bytes())
    content[len(content) // 2] ^= 0xFF
    dump.write_bytes(bytes(content))
    with pytest.raises(BackupError, match="differ from the manifest"):
        restore_backup(tmp_path / "flipped")
    _assert_untouched()

    # A forged backup: consistent hashes and counts, an audit event rewritten. It loads, fails
    # verify, and the load is rolled back.
    def rewrite(objects: list[dict[str, Any]]) -> None:
        event = next(
            o
            for o in objects
            if o["model"] == "ledger.auditevent" and o["fields"]["action"] == "test.backup_drill"
        )
        event["fields"]["after"] = {"note": "改写"}

    _edit_dump(tmp_path / "forged", rewrite)
    check_backup(tmp_path / "forged")
    with pytest.raises(BackupError, match="does not verify"):
        restore_backup(tmp_path / "forged")
    _assert_untouched()


@pytest.mark.django_db(transaction=True)
def test_staff_can_sign_in_with_their_authenticator_after_a_restore(tmp_path: Path, settings: Any) -> None:
    from django.test import Client
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    settings.STAFF_MFA_REQUIRED = True
    reviewer = make_user("reviewer", Role.REVIEWER, display_name="初审员")
    device = TOTPDevice.objects.create(user=reviewer, name="手机", confirmed=True)
    create_backup(tmp_path / "backup")
    call_command("flush", "--noinput")
    restore_backup(tmp_path / "backup")

    restored = TOTPDevice.objects.get(user__username="reviewer")
    assert restored.key == device.key
    client = Client()
    response = client.post(reverse("accounts:login"), {"username": "reviewer", "password": PASSWORD})
    assert response.status_code == 302
    code = f"{totp(restored.bin_key, restored.step, restored.t0, restored.digits, restored.drift):06d}"
    assert client.post(reverse("accounts:otp"), {"token": code}).status_code == 302
    assert client.get(reverse("enterprises:pending")).status_code == 200


WRITERS = 4


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_backup_taken_while_four_clients_ingest_restores_to_its_manifest(tmp_path: Path) -> None:
    from django.db import connection

    from monitoring.ingest import record_usage_batch
    from monitoring.tests.factories import hourly, make_node

    make_enterprise("北京影都智造文化传媒有限公司", USCC_A)
    provider = Provider.objects.create(name="怀柔智算中心", status=Provider.Status.APPROVED)
    keys = [make_node(provider, f"hz-gpu-{n:03d}")[1] for n in range(WRITERS)]
    stop = threading.Event()
    batches = [0] * WRITERS
    errors: list[BaseException] = []

    def ingest(n: int) -> None:
        try:
            start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
            while not stop.is_set() and batches[n] < 400:
                records = hourly(keys[n], 10, gpu=f"GPU-{n}", start=start, node_id=f"hz-gpu-{n:03d}")
                record_usage_batch(provider, records, actor_repr=f"provider:{provider.pk}")
                start += dt.timedelta(hours=10)
                batches[n] += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    writers = [threading.Thread(target=ingest, args=(n,)) for n in range(WRITERS)]
    for writer in writers:
        writer.start()
    while sum(batches) < WRITERS and not errors:
        time.sleep(0.01)
    try:
        manifest = create_backup(tmp_path / "backup")
        during = sum(batches)
        time.sleep(0.2)
    finally:
        stop.set()
        for writer in writers:
            writer.join(60)
    assert not errors, errors
    assert sum(batches) > during, "the clients stopped before the backup ended"
    assert UsageRecord.objects.count() > manifest["counts"]["monitoring.UsageRecord"] > 0

    check_backup(tmp_path / "backup")
    call_command("flush", "--noinput")
    restore_backup(tmp_path / "backup")
    counts = {label: n for label, n in manifest["counts"].items()}
    assert UsageRecord.objects.count() == counts["monitoring.UsageRecord"]
    size = services.tree_size()
    assert size == manifest["ledger"]["tree_size"]
    assert base64.b64encode(services.root_at(size)).decode() == manifest["ledger"]["root_hash"]
    assert verify_log().ok


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_restore_migrates_a_new_database_itself(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    import urllib.parse
    import uuid

    import psycopg
    from django.db import connection

    _register()
    manifest = create_backup(tmp_path / "backup")
    db = connection.settings_dict
    name = f"yingdu_restore_{uuid.uuid4().hex[:8]}"
    auth = urllib.parse.quote(db["USER"] or "") + (
        f":{urllib.parse.quote(db['PASSWORD'])}" if db["PASSWORD"] else ""
    )
    base = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))},
            "YINGDU_ENV": "development",
            "YINGDU_VAR_DIR": str(tmp_path / "var"),
            "MEDIA_ROOT": str(tmp_path / "media"),
            "LEDGER_KEY_PATH": str(settings.LEDGER_KEY_PATH),  # kept with the server's secrets
            "DATABASE_URL": f"{base}/{name}",
        }
        out = subprocess.run(  # noqa: S603 - our own command
            [str(Path(sys.executable).parent / "yingdu"), "backup", "restore", str(tmp_path / "backup")],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        assert "migrated before the restore" in out.stdout
        with psycopg.connect(f"{base}/{name}") as restored:
            row = restored.execute("SELECT count(*) FROM enterprises_enterprise").fetchone()
        assert row is not None and row[0] == manifest["counts"]["enterprises.Enterprise"] == 1
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
