"""Incremental verification: only the new entries are re-hashed, and the log must extend the tree
the last passing run verified (RFC 9162 consistency proof)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import TestCase, TransactionTestCase

from ledger import merkle, tiles
from ledger.actions import append_entries, sign_checkpoint
from ledger.models import LogState, VerificationRun
from ledger.tasks import verify_ledger_nightly
from ledger.tests.test_verify import raw_sql
from ledger.unchanged import last_verified, rewritten_entries
from ledger.verification import run_verification
from ledger.verify import verify_log

CHINA = dt.timezone(dt.timedelta(hours=8))


class IncrementalVerifyTests(TestCase):
    def setUp(self) -> None:
        append_entries([f"old-{i}".encode() for i in range(300)], kind="test")
        sign_checkpoint()
        self.first = run_verification(actor_repr="test")
        self.assertTrue(self.first.ok, self.first.problems)
        append_entries([f"new-{i}".encode() for i in range(213)], kind="test")
        sign_checkpoint()
        self.since = (self.first.tree_size, bytes(self.first.root_hash))

    def test_it_passes_a_log_that_extends_the_verified_tree(self) -> None:
        result = verify_log(window=256, since=self.since)
        self.assertTrue(result.ok, [str(p) for p in result.problems])
        self.assertEqual(result.tree_size, 514)  # and the first run's audit event
        self.assertEqual(result.root_hash, bytes(LogState.objects.get().root_hash))

    def test_it_refuses_a_new_part_not_consistent_with_the_last_verified_checkpoint(self) -> None:
        # An insider rewrites the log from entry 100 on and recomputes every tile and the state:
        # a full check of the stored data alone would find a self-consistent log.
        state = LogState.objects.get()
        hasher = merkle.hasher(state.hash_alg)
        with raw_sql() as c:
            c.execute("UPDATE ledger_entry SET data = %s WHERE leaf_index = %s", [b"forged", 100])
            c.execute("SELECT data FROM ledger_entry ORDER BY leaf_index")
            datas = [bytes(d) for (d,) in c.fetchall()]
            built = tiles.append_to_tiles(0, hasher.leaves(datas), {}, hasher)
            for (level, index), blob in built.tiles.items():
                c.execute(
                    "UPDATE ledger_tile SET hashes = %s WHERE key = %s", [blob, tiles.tile_key(level, index)]
                )
            c.execute("UPDATE ledger_logstate SET root_hash = %s WHERE id = 1", [built.root])
            c.execute("DELETE FROM ledger_checkpoint")
        result = verify_log(window=256, since=self.since)
        self.assertFalse(result.ok)
        self.assertIn("与上次校验通过的检查点（大小 300）不一致", " ".join(str(p) for p in result.problems))

    def test_it_finds_an_edited_new_entry(self) -> None:
        with raw_sql() as c:
            c.execute("UPDATE ledger_entry SET data = %s WHERE leaf_index = %s", [b"edited", 400])
        result = verify_log(window=256, since=self.since)
        self.assertFalse(result.ok)
        self.assertEqual(result.first_bad_index, 400)

    def test_it_refuses_a_log_shorter_than_the_verified_tree(self) -> None:
        with raw_sql() as c:
            c.execute("UPDATE ledger_logstate SET size = %s WHERE id = 1", [200])
        self.assertFalse(verify_log(window=256, since=self.since).ok)

    def test_the_nightly_job_verifies_incrementally_and_fully_on_sundays(self) -> None:
        with time_machine.travel(dt.datetime(2026, 12, 3, 3, 17, tzinfo=CHINA), tick=False):  # a Thursday
            verify_ledger_nightly.call_local()
        with time_machine.travel(dt.datetime(2026, 12, 6, 3, 17, tzinfo=CHINA), tick=False):  # a Sunday
            verify_ledger_nightly.call_local()
        nightly, weekly = VerificationRun.objects.order_by("id")[1:]
        self.assertTrue(nightly.ok and weekly.ok)
        self.assertEqual((nightly.tree_size, weekly.tree_size), (514, 515))
        from ledger.models import AuditEvent

        ran = [e.after for e in AuditEvent.objects.filter(action="ledger.verify").order_by("id")]
        self.assertEqual([a is not None and "since" in a for a in ran], [False, True, False])

    def test_the_command_verifies_incrementally(self) -> None:
        import io

        from django.core.management import call_command

        out = io.StringIO()
        call_command("ledger", "verify", "--incremental", stdout=out)
        self.assertIn("OK", out.getvalue())
        last = VerificationRun.objects.order_by("-id").first()
        assert last is not None
        from ledger.models import AuditEvent

        event = AuditEvent.objects.filter(action="ledger.verify").order_by("-id").first()
        assert event is not None and event.after is not None
        self.assertEqual(event.after["since"], self.first.tree_size)


@pytest.mark.postgres
class RewrittenEntriesTests(TransactionTestCase):
    """On PostgreSQL an incremental run also re-hashes the old entries written since the last mark:
    entries are append-only, so a rewrite of one is found the next night, not on Sunday."""

    def setUp(self) -> None:
        append_entries([f"old-{i}".encode() for i in range(300)], kind="test")
        sign_checkpoint()
        first = run_verification(actor_repr="test")
        self.assertTrue(first.ok, first.problems)
        self.assertIsNotNone(first.snapshot_xmin)
        append_entries([f"new-{i}".encode() for i in range(20)], kind="test")
        sign_checkpoint()

    def rewrite(self, leaf: int, data: bytes) -> None:
        with raw_sql(("ledger_entry",)) as cursor:
            cursor.execute("UPDATE ledger_entry SET data = %s WHERE leaf_index = %s", [data, leaf])

    def test_an_incremental_run_finds_an_old_entry_rewritten_since_the_last_mark(self) -> None:
        self.rewrite(100, b"forged")
        self.rewrite(120, b"old-120")  # rewritten with its own bytes: read again, and found unchanged
        verified = last_verified()
        assert verified is not None
        hasher = merkle.hasher(LogState.objects.get().hash_alg)
        self.assertEqual(rewritten_entries(verified.tree_size, verified, hasher), ([100, 120], [100]))
        # Below a larger verified log, the entries appended since the mark are read again too.
        appended = list(range(verified.tree_size, LogState.objects.get().size))
        self.assertEqual(rewritten_entries(10_000, verified, hasher), ([100, 120, *appended], [100]))
        run = run_verification(actor_repr="test", incremental=True)
        self.assertFalse(run.ok)
        self.assertEqual([p["index"] for p in run.problems], [100])
        self.assertIn("叶哈希不符", run.problems[0]["message"])
        self.assertIsNone(run.snapshot_xmin)  # no mark over a rewritten entry: the next night finds it again
        again = run_verification(actor_repr="test", incremental=True)
        self.assertEqual([p["index"] for p in again.problems], [100])

    def test_an_incremental_run_reads_no_old_entry_when_none_was_written_since(self) -> None:
        verified = last_verified()
        assert verified is not None
        hasher = merkle.hasher(LogState.objects.get().hash_alg)
        self.assertEqual(rewritten_entries(verified.tree_size, verified, hasher), ([], []))
        run = run_verification(actor_repr="test", incremental=True)
        self.assertTrue(run.ok, run.problems)
