"""Verification reads a window of entries packed by the database (a few values instead of a row per
entry) and gets exactly what reading the rows one by one gives."""

from __future__ import annotations

from django.db import connection
from django.test import TestCase

from ledger import merkle
from ledger.actions import append_entries, record_event, sign_checkpoint
from ledger.models import Entry, LogState
from ledger.tests.test_verify import raw_sql
from ledger.verify import entry_interest, verify_log
from ledger.windows import Packed, read_window

# Bytes of every kind: empty, NUL and 0xff bytes, invalid UTF-8, and what looks like an audit
# entry inside an entry, cut short at an entry's end, or at an entry's start under another kind.
ENTRIES = [
    b"",
    b"\x00",
    b"\xff\xfe\x00\x01",
    b"plain",
    b'x\x00{"action":"inside"}',
    b'{"act',
    b'ion":"the next entry"}',
    b'{"action":"x","type":"audit_event"}',
    bytes(range(256)),
    "中文".encode(),
]


class PackedWindowTests(TestCase):
    def setUp(self) -> None:
        append_entries(ENTRIES[:5], kind="test")
        self.event = record_event("test.action", actor=None, after={"x": 1}, ip="10.0.0.1")
        append_entries(ENTRIES[5:], kind="test", enterprise_id=7)
        sign_checkpoint()
        self.size = LogState.objects.get().size
        self.rows = list(
            Entry.objects.order_by("leaf_index").values_list(
                "leaf_index", "kind", "enterprise_id", "provider_id", "data"
            )
        )

    def test_it_reads_a_whole_window_packed_with_every_entry_byte_for_byte(self) -> None:
        rows = read_window(0, self.size, entry_interest())
        self.assertIsInstance(rows.datas, Packed)
        self.assertEqual(list(rows.datas), [bytes(r[4]) for r in self.rows])
        self.assertEqual(rows.datas[-1], "中文".encode())
        self.assertEqual(rows.present, {})
        self.assertEqual(rows.wrong_type, [])

    def test_it_hashes_packed_entries_as_the_entries_themselves(self) -> None:
        for alg in merkle.ALGORITHMS:
            hasher = merkle.hasher(alg)
            rows = read_window(0, self.size, entry_interest())
            self.assertEqual(rows.leaves(hasher), hasher.leaves([bytes(r[4]) for r in self.rows]), alg)

    def test_it_reads_the_metadata_of_audit_entries_and_of_entries_that_start_like_one(self) -> None:
        rows = read_window(0, self.size, entry_interest())
        wanted = [
            (r[0], r[1], r[2], r[3], bytes(r[4]))
            for r in self.rows
            if r[1] == "audit_event" or bytes(r[4]).startswith(b'{"action":')
        ]
        self.assertEqual([tuple(m) for m in rows.metas], wanted)
        self.assertEqual(rows.audit_indexes, [self.event.leaf_index])
        # Neither the cut-short '{"act' (an audit entry comes before it) nor entry 4 with one inside.
        self.assertNotIn(ENTRIES.index(b'{"act') + 1, [m[0] for m in rows.metas])
        self.assertNotIn(4, [m[0] for m in rows.metas])

    def test_it_reads_a_window_with_a_missing_entry_row_by_row(self) -> None:
        with raw_sql() as c:
            c.execute("DELETE FROM ledger_entry WHERE leaf_index = %s", [3])
        rows = read_window(0, self.size, entry_interest())
        self.assertNotIsInstance(rows.datas, Packed)
        self.assertEqual(sorted(rows.present), [r[0] for r in self.rows if r[0] != 3])
        self.assertEqual(len(rows.metas), self.size - 1)

    def test_it_reads_a_window_with_an_entry_of_another_type_row_by_row(self) -> None:
        with raw_sql() as c:
            if connection.vendor == "postgresql":  # a bytea column holds nothing else: the column turns
                c.execute("ALTER TABLE ledger_entry ALTER COLUMN data TYPE text USING encode(data, 'hex')")
            else:
                c.execute("UPDATE ledger_entry SET data = CAST(data AS TEXT) WHERE leaf_index = %s", [3])
        rows = read_window(0, self.size, entry_interest())
        self.assertNotIsInstance(rows.datas, Packed)
        every = [r[0] for r in self.rows]
        self.assertEqual(rows.wrong_type, every if connection.vendor == "postgresql" else [3])

    def test_it_verifies_entries_of_any_bytes_naming_one_edited_and_one_posing_as_an_audit_entry(
        self,
    ) -> None:
        posing = ENTRIES.index(b'{"action":"x","type":"audit_event"}') + 1  # after the audit entry
        result = verify_log(window=256)
        self.assertEqual(
            [(p.index, str(p)) for p in result.problems],
            [(posing, f"第 {posing} 条的类型“test”与其内容（audit_event）不符")],
        )
        with raw_sql() as c:
            c.execute("UPDATE ledger_entry SET data = %s WHERE leaf_index = %s", [b"\x00\xff", 2])
        result = verify_log(window=256)
        self.assertEqual(result.first_bad_index, 2, [str(p) for p in result.problems])

    def test_it_reads_tiles_packed_and_one_turned_to_text_row_by_row(self) -> None:
        rows = read_window(0, self.size, entry_interest())
        self.assertEqual(list(rows.blobs), [0])
        self.assertIsInstance(rows.blobs[0], bytes)
        with raw_sql() as c:
            if connection.vendor == "postgresql":
                c.execute("ALTER TABLE ledger_tile ALTER COLUMN hashes TYPE text USING encode(hashes, 'hex')")
            else:
                c.execute("UPDATE ledger_tile SET hashes = hex(hashes)")
        self.assertEqual(read_window(0, self.size, entry_interest()).blobs, {0: None})


class PackedTests(TestCase):
    def test_it_finds_entries_starting_with_a_prefix_only_at_entry_starts(self) -> None:
        entries = [b"ab", b"\x00ab", b"a", b"b", b"abc", b""]
        packed = Packed(b"".join(b"\x00" + e for e in entries), [0, 3, 7, 9, 11, 15, 16])
        self.assertEqual(list(packed), entries)
        self.assertEqual(packed.starting_with((b"ab",)), [0, 4])
        self.assertEqual(packed.starting_with((b"ab", b"b")), [0, 3, 4])
        self.assertEqual(packed.starting_with(()), [])
        self.assertEqual(packed[-1], b"")
        self.assertEqual(packed[1:3], [b"\x00ab", b"a"])
        with self.assertRaises(IndexError):
            packed[6]

    def test_it_finds_an_entry_start_that_a_false_place_in_the_entry_before_overlaps(self) -> None:
        packed = Packed(b"\x00q\x00a" + b"\x00a\x00a", [0, 4, 8])
        self.assertEqual(packed.starting_with((b"a\x00a",)), [1])

    def test_it_takes_no_entry_for_one_whose_prefix_runs_on_into_the_next(self) -> None:
        packed = Packed(b"\x00a\x00b", [0, 2, 4])
        self.assertEqual(packed.starting_with((b"a\x00b",)), [])
        self.assertEqual(packed.starting_with((b"b",)), [1])
