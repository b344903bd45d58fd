"""The checkpoint key file and the periodic jobs."""

from __future__ import annotations

import stat
import tempfile
from pathlib import Path

from django.test import TestCase, override_settings

from ledger import keys, note
from ledger.actions import append_entries
from ledger.models import Checkpoint, VerificationRun
from ledger.tasks import sign_periodic_checkpoint, verify_ledger_nightly


class KeyFileTests(TestCase):
    def test_the_key_is_created_on_first_use_readable_by_the_owner_only(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "sub" / "ledger.key"
            with override_settings(LEDGER_KEY_PATH=path, LEDGER_ORIGIN="test.example/log"):
                signer = keys.signer()
                self.assertTrue(path.is_file())
                self.assertEqual(stat.S_IMODE(path.stat().st_mode), 0o600)
                self.assertEqual(note.parse_signer_key(path.read_text()).verifier_key, signer.verifier_key)
                self.assertTrue(keys.verifier_key().startswith("test.example/log+"))

    def test_an_existing_key_is_loaded_not_replaced(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "ledger.key"
            existing = note.generate_signer("test.example/log")
            path.write_text(existing.text)
            with override_settings(LEDGER_KEY_PATH=path):
                self.assertEqual(keys.verifier_key(), existing.verifier_key)


class PeriodicTaskTests(TestCase):
    def test_the_periodic_task_signs_a_checkpoint_when_the_log_grew(self) -> None:
        append_entries([b"a"], kind="test")
        sign_periodic_checkpoint.call_local()
        sign_periodic_checkpoint.call_local()
        self.assertEqual(list(Checkpoint.objects.values_list("tree_size", flat=True)), [1])

    def test_the_nightly_verification_stores_its_result(self) -> None:
        append_entries([b"a", b"b"], kind="test")
        verify_ledger_nightly.call_local()
        run = VerificationRun.objects.get()
        self.assertTrue(run.ok)
        self.assertEqual(run.actor_repr, "nightly")
