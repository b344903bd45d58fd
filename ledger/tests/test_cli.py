"""``yingdu ledger checkpoint|key|export|audit|verify-receipt`` and the offline verifier."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import TestCase, override_settings

from ledger import note, offline, services, tiles
from ledger.actions import append_entries, sign_checkpoint

REPO = Path(__file__).resolve().parents[2]


def _cmd(*args: str) -> str:
    out = io.StringIO()
    call_command("ledger", *args, stdout=out)
    return out.getvalue()


class ExportAuditTests(TestCase):
    def setUp(self) -> None:
        append_entries([f"usage-{i}".encode() for i in range(700)], kind="usage_record")
        append_entries([b"x" * 1000, b""], kind="usage_record")

    def _export(self, tmp: Path) -> note.Checkpoint:
        out = _cmd("export", str(tmp))
        self.assertIn("已导出 702 条", out)
        return note.parse_checkpoint(note.parse_note((tmp / "checkpoint").read_text()).text)

    def test_an_export_audited_offline_gives_the_same_root_as_the_live_log(self) -> None:
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            cp = self._export(tmp)
            self.assertEqual(cp.size, services.tree_size())
            self.assertEqual(cp.root_hash, services.root_at(cp.size))
            self.assertTrue((tmp / tiles.tile_path(0, 2, 702 - 512)).is_file())
            self.assertTrue((tmp / tiles.tile_path(1, 0, 2)).is_file())
            self.assertTrue((tmp / tiles.entries_path(1)).is_file())
            result = offline.audit_export(tmp, services.verifier_key())
            self.assertTrue(result.ok, result.problems)
            self.assertEqual(result.root_hash, services.root_at(cp.size))
            out = _cmd("audit", str(tmp), "--key", services.verifier_key())
            self.assertIn("OK 702", out)

    def test_the_offline_auditor_runs_without_django(self) -> None:
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            self._export(tmp)
            key_file = tmp / "key.txt"
            key_file.write_text(services.verifier_key())
            code = (
                "import sys; sys.modules['django'] = None; "
                "from ledger.offline import main; raise SystemExit(main(sys.argv[1:]))"
            )
            proc = subprocess.run(
                [sys.executable, "-c", code, "audit", str(tmp), "--key", str(key_file)],
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
            self.assertIn("OK 702", proc.stdout)

    def test_a_tampered_export_is_refused_naming_the_entry(self) -> None:
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            self._export(tmp)
            bundle = tmp / tiles.entries_path(1)
            entries = tiles.decode_bundle(bundle.read_bytes())
            entries[9] = b"usage-forged"
            bundle.write_bytes(tiles.encode_bundle(entries))
            result = offline.audit_export(tmp, services.verifier_key())
            self.assertFalse(result.ok)
            self.assertIn("265", result.problems[0])
            with self.assertRaises(CommandError):
                _cmd("audit", str(tmp), "--key", services.verifier_key())

    def test_an_export_checked_with_another_key_is_refused(self) -> None:
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            self._export(tmp)
            other = note.generate_signer("yingdu.huairou.gov.cn/ledger").verifier_key
            result = offline.audit_export(tmp, other)
            self.assertFalse(result.ok)
            self.assertIn("not signed by the key", result.problems[0])


@override_settings(LEDGER_HASH="sm3")
class Sm3ExportTests(TestCase):
    def test_an_sm3_export_audits_with_the_hash_named_in_the_export(self) -> None:
        import tempfile

        append_entries([f"e{i}".encode() for i in range(300)], kind="usage_record")
        with tempfile.TemporaryDirectory() as d:
            _cmd("export", d)
            self.assertEqual(json.loads((Path(d) / "yingdu-ledger.json").read_text())["hash"], "sm3")
            result = offline.audit_export(d, services.verifier_key())
            self.assertTrue(result.ok, result.problems)
            self.assertEqual(result.root_hash, services.root_at(300))


class ReceiptTests(TestCase):
    def setUp(self) -> None:
        self.indexes = append_entries([f"rec-{i}".encode() for i in range(10)], kind="usage_record")
        sign_checkpoint()

    def test_receipts_verify_offline_with_the_key(self) -> None:
        import tempfile

        receipts = services.receipts(self.indexes)
        for r in receipts:
            self.assertTrue(offline.verify_receipt(r, services.verifier_key()).ok)
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "receipts.json"
            path.write_text(json.dumps({"receipts": receipts}))
            out = _cmd("verify-receipt", str(path), "--key", services.verifier_key())
            self.assertEqual(out.count("OK"), 10)

    def test_a_receipt_with_another_entry_or_key_is_refused(self) -> None:
        receipt = services.receipt(4)
        forged = dict(receipt, entry=base64.b64encode(b"rec-99").decode())
        self.assertFalse(offline.verify_receipt(forged, services.verifier_key()).ok)
        other = note.generate_signer("yingdu.huairou.gov.cn/ledger").verifier_key
        result = offline.verify_receipt(receipt, other)
        self.assertFalse(result.ok)
        self.assertIn("检查点被拒绝", result.problem)
        moved = dict(receipt, leaf_index=5)
        self.assertFalse(offline.verify_receipt(moved, services.verifier_key()).ok)
        self.assertFalse(offline.verify_receipt({"leaf_index": 1}, services.verifier_key()).ok)


class CheckpointCommandTests(TestCase):
    def test_checkpoint_command_signs_and_prints_a_checkpoint(self) -> None:
        append_entries([b"a", b"b"], kind="test")
        out = _cmd("checkpoint")
        cp = note.open_checkpoint(out, _cmd("key").strip())
        self.assertEqual(cp.size, 2)

    def test_key_command_prints_the_verifier_key(self) -> None:
        key = _cmd("key").strip()
        self.assertEqual(note.parse_verifier_key(key).text, key)
