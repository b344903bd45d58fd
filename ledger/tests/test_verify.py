"""``yingdu ledger verify`` finds every edited, deleted, inserted or reordered row and names its index."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import TestCase, override_settings

from ledger import note, tiles
from ledger.actions import append_entries, record_event, sign_checkpoint
from ledger.models import Checkpoint, VerificationRun
from ledger.verify import verify_log

GUARDED_TABLES = ("ledger_entry", "ledger_checkpoint", "ledger_auditevent")


@contextmanager
def raw_sql(tables: tuple[str, ...] = GUARDED_TABLES) -> Iterator[Any]:
    """A cursor with the append-only triggers of ``tables`` out of the way: on PostgreSQL switched
    on again afterwards (a test with real commits), elsewhere undone when the test's transaction
    rolls back."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # ALTER TABLE refuses while deferred foreign-key checks are pending.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for table in tables:
            if connection.vendor == "postgresql":
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            else:
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only")
        yield cursor
        if connection.vendor == "postgresql":
            for table in tables:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


if TYPE_CHECKING:
    _Base = TestCase
else:
    _Base = object


class TamperDetection(_Base):
    """Run against an SHA-256 and an SM3 log (subclasses below)."""

    alg = "sha256"

    def setUp(self) -> None:
        for start, n in ((0, 300), (300, 1), (301, 299)):
            append_entries([f"usage-{i}".encode() for i in range(start, start + n)], kind="test")
            sign_checkpoint()
        self.event = record_event("test.action", actor=None, after={"x": 1}, ip="10.0.0.1")
        append_entries([b"last"], kind="test")
        sign_checkpoint()
        self.size = 602

    def assertFirstBad(self, index: int) -> None:
        result = verify_log(window=256)
        self.assertFalse(result.ok)
        self.assertEqual(result.first_bad_index, index, [str(p) for p in result.problems])

    def test_an_untouched_log_verifies(self) -> None:
        result = verify_log(window=256)
        self.assertTrue(result.ok, [str(p) for p in result.problems])
        self.assertEqual(result.tree_size, self.size)
        self.assertEqual(result.hash_alg, self.alg)
        self.assertEqual(result.checkpoints_checked, 4)

    def test_an_edited_entry_is_found_at_its_index(self) -> None:
        with raw_sql() as c:
            c.execute("UPDATE ledger_entry SET data = %s WHERE leaf_index = %s", [b"usage-999", 417])
        self.assertFirstBad(417)

    def test_a_deleted_entry_is_found_at_its_index(self) -> None:
        with raw_sql() as c:
            c.execute("DELETE FROM ledger_entry WHERE leaf_index = %s", [123])
        self.assertFirstBad(123)

    def test_a_deleted_last_entry_is_found(self) -> None:
        with raw_sql() as c:
            c.execute("DELETE FROM ledger_entry WHERE leaf_index = %s", [self.size - 1])
        self.assertFirstBad(self.size - 1)

    def test_an_inserted_entry_is_found_at_its_index(self) -> None:
        with raw_sql() as c:
            c.execute(
                "INSERT INTO ledger_entry (leaf_index, kind, data) VALUES (%s, %s, %s)",
                [self.size, "usage_record", b"forged"],
            )
        self.assertFirstBad(self.size)

    def test_reordered_entries_are_found_at_the_first_swapped_index(self) -> None:
        with raw_sql() as c:
            c.execute("UPDATE ledger_entry SET leaf_index = -1 WHERE leaf_index = 20")
            c.execute("UPDATE ledger_entry SET leaf_index = 20 WHERE leaf_index = 510")
            c.execute("UPDATE ledger_entry SET leaf_index = 510 WHERE leaf_index = -1")
        self.assertFirstBad(20)

    def test_an_edited_leaf_hash_in_a_tile_is_found_at_its_index(self) -> None:
        with raw_sql() as c:
            c.execute("SELECT hashes FROM ledger_tile WHERE key = %s", [tiles.tile_key(0, 1)])
            data = bytearray(bytes(c.fetchone()[0]))
            data[32 * 5] ^= 1
            c.execute(
                "UPDATE ledger_tile SET hashes = %s WHERE key = %s", [bytes(data), tiles.tile_key(0, 1)]
            )
        self.assertFirstBad(256 + 5)

    def test_an_edited_inner_node_of_a_tile_is_found_at_the_first_entry_under_it(self) -> None:
        with raw_sql() as c:
            c.execute("SELECT hashes FROM ledger_tile WHERE key = %s", [tiles.tile_key(0, 1)])
            data = bytearray(bytes(c.fetchone()[0]))
            # Height 4 starts after the 256 leaf hashes; its node 10 covers entries 256+160 to 256+175.
            data[32 * (256 + 10)] ^= 1
            c.execute(
                "UPDATE ledger_tile SET hashes = %s WHERE key = %s", [bytes(data), tiles.tile_key(0, 1)]
            )
        self.assertFirstBad(256 + 160)

    def test_an_edited_upper_tile_is_found_at_the_first_entry_it_covers(self) -> None:
        with raw_sql() as c:
            c.execute("SELECT hashes FROM ledger_tile WHERE key = %s", [tiles.tile_key(1, 0)])
            data = bytearray(bytes(c.fetchone()[0]))
            data[32 + 3] ^= 1
            c.execute(
                "UPDATE ledger_tile SET hashes = %s WHERE key = %s", [bytes(data), tiles.tile_key(1, 0)]
            )
        self.assertFirstBad(256)

    def test_an_edited_audit_event_is_found_at_its_entry(self) -> None:
        with raw_sql() as c:
            c.execute("UPDATE ledger_auditevent SET action = %s WHERE id = %s", ["test.other", self.event.pk])
        self.assertFirstBad(self.event.leaf_index or 0)

    def test_a_deleted_audit_event_is_found_at_its_entry(self) -> None:
        with raw_sql() as c:
            c.execute("DELETE FROM ledger_auditevent WHERE id = %s", [self.event.pk])
        self.assertFirstBad(self.event.leaf_index or 0)

    def test_an_audit_event_inserted_without_entry_is_found(self) -> None:
        with raw_sql() as c:
            c.execute(
                "INSERT INTO ledger_auditevent (created_at, actor_repr, action, object_type, object_id, "
                "object_repr, result) VALUES (%s, 'x', 'forged', '', '', '', 'success')",
                [self.event.created_at],
            )
        result = verify_log(window=256)
        self.assertFalse(result.ok)
        self.assertIn("没有对应的日志条目", " ".join(str(p) for p in result.problems))

    def test_a_checkpoint_signed_by_another_key_is_refused(self) -> None:
        from ledger import services

        foreign = note.generate_signer(note.parse_verifier_key(services.verifier_key()).name)
        root = services.root_at(self.size)
        forged = note.sign_checkpoint(foreign, "yingdu.huairou.gov.cn/ledger", self.size, root)
        Checkpoint.objects.create(
            tree_size=self.size, root_hash=root, note=forged, key_hash=foreign.key_hash.hex()
        )
        result = verify_log(window=256)
        self.assertFalse(result.ok)
        self.assertIn("not signed by the key", " ".join(str(p) for p in result.problems))

    def test_verify_command_names_the_first_bad_index_and_fails(self) -> None:
        with raw_sql() as c:
            c.execute("UPDATE ledger_entry SET data = %s WHERE leaf_index = %s", [b"edited", 77])
        out = io.StringIO()
        with self.assertRaises(CommandError):
            call_command("ledger", "verify", stdout=out)
        self.assertIn("第一个异常的序号：77", out.getvalue())
        run = VerificationRun.objects.get()
        self.assertFalse(run.ok)
        self.assertEqual(run.first_bad_index, 77)

    def test_it_reports_a_state_and_checkpoints_of_the_wrong_type_without_crashing(self) -> None:
        with raw_sql() as c:
            if connection.vendor == "postgresql":
                c.execute("ALTER TABLE ledger_logstate ALTER COLUMN root_hash TYPE text USING encode(root_hash, 'hex')")
                c.execute("ALTER TABLE ledger_checkpoint ALTER COLUMN note TYPE bytea USING convert_to(note, 'UTF8')")
            else:
                c.execute("UPDATE ledger_logstate SET root_hash = hex(root_hash)")
                c.execute("UPDATE ledger_checkpoint SET note = CAST(note AS BLOB)")
        out = io.StringIO()
        with self.assertRaises(CommandError):
            call_command("ledger", "verify", stdout=out)
        self.assertIn("日志状态中保存的根哈希与重新计算的根哈希不一致", out.getvalue())
        self.assertIn("签名检查点不是文本", out.getvalue())

    def test_it_names_an_audit_event_whose_json_no_longer_reads(self) -> None:
        with raw_sql() as c:
            if connection.vendor == "postgresql":
                c.execute('ALTER TABLE ledger_auditevent ALTER COLUMN "after" TYPE text')
            else:
                c.execute("PRAGMA ignore_check_constraints = 1")
            c.execute('UPDATE ledger_auditevent SET "after" = %s WHERE id = %s', ["{not json", self.event.pk])
            if connection.vendor == "sqlite":
                c.execute("PRAGMA ignore_check_constraints = 0")
        result = verify_log(window=256)
        self.assertEqual(result.first_bad_index, self.event.leaf_index)
        self.assertIn(f"审计事件 #{self.event.pk} ", " ".join(str(p) for p in result.problems))

    def test_verify_command_reports_an_intact_log(self) -> None:
        out = io.StringIO()
        call_command("ledger", "verify", stdout=out)
        self.assertIn("OK", out.getvalue())
        self.assertTrue(VerificationRun.objects.get().ok)


class Sha256TamperTests(TamperDetection, TestCase):
    alg = "sha256"


@override_settings(LEDGER_HASH="sm3")
class Sm3TamperTests(TamperDetection, TestCase):
    alg = "sm3"
