"""Appending entries: tiles, roots, proofs from storage, checkpoints and the audit-event hook."""

from __future__ import annotations

from django.db import transaction
from django.test import TestCase, override_settings

from ledger import merkle, note, services, tiles
from ledger.actions import append_entries, record_event, sign_checkpoint
from ledger.events import AUDIT_KIND, audit_entry_bytes
from ledger.models import AuditEvent, Checkpoint, Entry, LogState, Tile


def _entries(n: int, start: int = 0) -> list[bytes]:
    return [f"entry-{i}".encode() for i in range(start, start + n)]


class AppendTests(TestCase):
    def test_appended_entries_get_consecutive_indexes_and_the_rfc_root(self) -> None:
        first = append_entries(_entries(3), kind="test")
        second = append_entries(_entries(300, 3), kind="test")
        self.assertEqual(first, [0, 1, 2])
        self.assertEqual(second, list(range(3, 303)))
        leaves = [merkle.leaf_hash(e) for e in _entries(303)]
        state = LogState.objects.get()
        self.assertEqual(state.size, 303)
        self.assertEqual(bytes(state.root_hash), merkle.root(leaves))
        self.assertEqual(services.root_at(303), merkle.root(leaves))
        self.assertEqual(services.root_at(5), merkle.root(leaves[:5]))
        self.assertEqual(services.entry(7), b"entry-7")
        self.assertEqual(services.leaf_hash(7), leaves[7])

    def test_tiles_are_stored_as_c2sp_tiles_with_their_inner_nodes(self) -> None:
        append_entries(_entries(600), kind="test")
        stored = {(t.level, t.index): bytes(t.hashes) for t in Tile.objects.all()}
        widths = {k: tiles.stored_width(v) for k, v in stored.items()}
        self.assertEqual(widths, {(0, 0): 256, (0, 1): 256, (0, 2): 88, (1, 0): 2})
        leaves = [merkle.leaf_hash(e) for e in _entries(600)]
        self.assertEqual(tiles.tile_hashes(stored[(0, 1)]), b"".join(leaves[256:512]))
        hasher = merkle.hasher("sha256")
        self.assertEqual(tiles.tile_node(stored[(0, 1)], 7, 1, hasher), merkle.root(leaves[384:512]))
        self.assertEqual(tiles.tile_node(stored[(0, 1)], 4, 3, hasher), merkle.root(leaves[304:320]))
        self.assertEqual(tiles.tile_node(stored[(0, 1)], 2, 5, hasher), merkle.root(leaves[276:280]))
        self.assertEqual(tiles.tile_hashes(stored[(1, 0)])[32:], merkle.root(leaves[256:512]))

    def test_proofs_from_storage_verify_for_every_index_and_old_size(self) -> None:
        for batch in (1, 2, 255, 1, 256, 7, 300):
            append_entries(_entries(batch, services.tree_size()), kind="test")
        n = services.tree_size()
        leaves = [merkle.leaf_hash(e) for e in _entries(n)]
        for size in (1, 2, 3, 256, 257, 512, 513, n):
            root = services.root_at(size)
            self.assertEqual(root, merkle.root(leaves[:size]))
            for index in {0, size // 2, size - 1}:
                proof = services.inclusion_proof(index, size)
                self.assertTrue(merkle.verify_inclusion(leaves[index], index, size, proof, root))
            for old in (0, 1, size // 3, size):
                proof = services.consistency_proof(old, size)
                self.assertTrue(merkle.verify_consistency(old, size, merkle.root(leaves[:old]), root, proof))

    def test_proof_for_a_size_beyond_the_log_is_refused(self) -> None:
        append_entries(_entries(4), kind="test")
        with self.assertRaises(services.ProofError):
            services.inclusion_proof(1, 5)
        with self.assertRaises(services.ProofError):
            services.inclusion_proof(4, 4)
        with self.assertRaises(services.ProofError):
            services.consistency_proof(3, 2)

    def test_an_append_that_rolls_back_leaves_no_trace(self) -> None:
        append_entries(_entries(2), kind="test")
        try:
            with transaction.atomic():
                append_entries(_entries(500, 2), kind="test")
                raise RuntimeError("the action failed after logging")
        except RuntimeError:
            pass
        self.assertEqual(services.tree_size(), 2)
        self.assertEqual(Entry.objects.count(), 2)
        self.assertEqual(append_entries(_entries(1, 2), kind="test"), [2])
        self.assertEqual(services.root_at(3), merkle.root([merkle.leaf_hash(e) for e in _entries(3)]))

    def test_a_large_append_stores_every_entry_and_the_rfc_root(self) -> None:
        n = 70_000  # above the size that inserts in a helper thread on SQLite, over two chunks
        entries = _entries(n)
        self.assertEqual(append_entries(entries, kind="usage_record"), list(range(n)))
        self.assertEqual(Entry.objects.count(), n)
        self.assertEqual(services.entry(65_537), entries[65_537])
        self.assertEqual(services.root_at(n), merkle.root([merkle.leaf_hash(e) for e in entries]))

    def test_a_failing_insert_in_a_large_append_rolls_everything_back(self) -> None:
        from django.db import IntegrityError, connection

        with connection.cursor() as c:
            c.execute(
                "INSERT INTO ledger_entry (leaf_index, kind, data) VALUES (%s, %s, %s)", [20_000, "x", b"x"]
            )
        with self.assertRaises(IntegrityError), transaction.atomic():
            append_entries(_entries(30_000), kind="usage_record")
        self.assertEqual(services.tree_size(), 0)
        self.assertEqual(Entry.objects.count(), 1)

    def test_entries_record_whom_they_concern(self) -> None:
        append_entries(_entries(2), kind="usage_record", enterprise_id=[5, None], provider_id=9)
        rows = list(Entry.objects.order_by("leaf_index").values_list("kind", "enterprise_id", "provider_id"))
        self.assertEqual(rows, [("usage_record", 5, 9), ("usage_record", None, 9)])

    def test_oversized_or_non_bytes_entries_are_refused(self) -> None:
        with self.assertRaises(ValueError):
            append_entries([b"x" * 65536], kind="test")
        with self.assertRaises(TypeError):
            append_entries(["text"], kind="test")  # type: ignore[list-item]
        self.assertEqual(services.tree_size(), 0)

    def test_entries_are_append_only(self) -> None:
        append_entries(_entries(1), kind="test")
        entry = Entry.objects.get()
        from ledger.models import AppendOnlyError

        with self.assertRaises(AppendOnlyError):
            entry.save()
        with self.assertRaises(AppendOnlyError):
            Entry.objects.all().delete()


class CheckpointTests(TestCase):
    def test_checkpoint_is_a_signed_note_for_the_current_size(self) -> None:
        append_entries(_entries(5), kind="test")
        text = sign_checkpoint()
        cp = note.open_checkpoint(text, services.verifier_key())
        self.assertEqual(cp.size, 5)
        self.assertEqual(cp.root_hash, services.root_at(5))
        self.assertEqual(services.latest_checkpoint(), text)

    def test_signing_again_without_new_entries_returns_the_same_checkpoint(self) -> None:
        append_entries(_entries(2), kind="test")
        first = sign_checkpoint()
        self.assertEqual(sign_checkpoint(), first)
        self.assertEqual(Checkpoint.objects.count(), 1)

    def test_a_checkpoint_is_signed_after_each_committed_batch(self) -> None:
        with self.captureOnCommitCallbacks(execute=True):
            append_entries(_entries(3), kind="test")
        self.assertEqual(list(Checkpoint.objects.values_list("tree_size", flat=True)), [3])

    def test_a_transaction_of_several_appends_signs_one_checkpoint_after_commit(self) -> None:
        with self.captureOnCommitCallbacks() as callbacks, transaction.atomic():
            append_entries(_entries(3), kind="test")
            record_event("test.action", actor=None)
            append_entries(_entries(2, 3), kind="test")
        self.assertEqual(len(callbacks), 1)
        callbacks[0]()
        self.assertEqual(list(Checkpoint.objects.values_list("tree_size", flat=True)), [6])

    def test_an_append_after_one_rolled_back_still_signs_a_checkpoint_after_commit(self) -> None:
        with self.captureOnCommitCallbacks(execute=True), transaction.atomic():
            try:
                with transaction.atomic():
                    append_entries(_entries(3), kind="test")
                    raise RuntimeError("undone")
            except RuntimeError:
                pass
            append_entries(_entries(2, 3), kind="test")
        self.assertEqual(list(Checkpoint.objects.values_list("tree_size", flat=True)), [2])

    def test_the_verifier_key_names_the_origin(self) -> None:
        from django.conf import settings

        key = note.parse_verifier_key(services.verifier_key())
        self.assertEqual(key.name, settings.LEDGER_ORIGIN)


@override_settings(LEDGER_HASH="sm3")
class Sm3LogTests(TestCase):
    def test_a_log_created_in_sm3_mode_hashes_with_sm3(self) -> None:
        append_entries(_entries(20), kind="test")
        state = LogState.objects.get()
        self.assertEqual(state.hash_alg, "sm3")
        leaves = [merkle.leaf_hash(e, "sm3") for e in _entries(20)]
        self.assertEqual(services.root_at(20), merkle.root(leaves, "sm3"))
        proof = services.inclusion_proof(13, 20)
        self.assertTrue(merkle.verify_inclusion(leaves[13], 13, 20, proof, services.root_at(20), "sm3"))


class AuditEventHookTests(TestCase):
    def test_every_audit_event_becomes_an_entry_in_the_same_transaction(self) -> None:
        event = record_event(
            "test.action", actor=None, before={"a": 1}, after={"a": 2.5}, ip="::ffff:10.0.0.1"
        )
        assert event.leaf_index is not None
        entry = Entry.objects.get(leaf_index=event.leaf_index)
        self.assertEqual(entry.kind, AUDIT_KIND)
        stored = AuditEvent.objects.get(pk=event.pk)
        self.assertEqual(bytes(entry.data), audit_entry_bytes(stored))

    def test_a_rolled_back_action_leaves_neither_event_nor_entry(self) -> None:
        try:
            with transaction.atomic():
                record_event("test.action", actor=None)
                raise RuntimeError
        except RuntimeError:
            pass
        self.assertEqual(AuditEvent.objects.count(), 0)
        self.assertEqual(services.tree_size(), 0)

    def test_large_numbers_in_event_details_survive_the_round_trip(self) -> None:
        event = record_event("test.action", actor=None, after={"n": 2**60, "l": [1, "x", None]})
        stored = AuditEvent.objects.get(pk=event.pk)
        self.assertEqual(audit_entry_bytes(stored), services.entry(event.leaf_index or 0))


def test_tile_paths_follow_the_c2sp_layout() -> None:
    assert tiles.tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert tiles.tile_path(1, 5, 17) == "tile/1/005.p/17"
    assert tiles.entries_path(0, 3) == "tile/entries/000.p/3"
