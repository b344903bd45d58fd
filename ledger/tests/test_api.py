"""The public log API: checkpoint, key, proofs (verified by our own verifier) and scoped entries."""

from __future__ import annotations

import base64

from ledger import merkle, note
from ledger.actions import append_entries, sign_checkpoint
from testing.fixtures import BaseTestCase


def _b(value: str) -> bytes:
    return base64.b64decode(value)


class LedgerApiTests(BaseTestCase):
    def setUp(self) -> None:
        self.entries = [f"record-{i}".encode() for i in range(40)]
        append_entries(self.entries[:30], kind="usage_record", provider_id=self.provider.pk)
        append_entries(self.entries[30:], kind="usage_record", enterprise_id=self.enterprise.pk)
        sign_checkpoint()

    def _published(self) -> note.Checkpoint:
        key = self.client.get("/api/v1/ledger/key")
        self.assertEqual(key["Content-Type"], "text/plain; charset=utf-8")
        checkpoint = self.client.get("/api/v1/ledger/checkpoint")
        self.assertEqual(checkpoint.status_code, 200)
        self.assertEqual(checkpoint["Content-Type"], "text/plain; charset=utf-8")
        return note.open_checkpoint(checkpoint.content.decode(), key.content.decode().strip())

    def test_checkpoint_verifies_with_the_published_key(self) -> None:
        cp = self._published()
        self.assertGreaterEqual(cp.size, 40)

    def test_inclusion_proofs_from_the_api_verify_against_the_checkpoint(self) -> None:
        cp = self._published()
        alg = "sha256"
        for index in (0, 17, 39):
            r = self.client.get(f"/api/v1/ledger/proof/inclusion?index={index}&tree_size={cp.size}")
            self.assertEqual(r.status_code, 200)
            body = r.json()
            self.assertEqual(set(body), {"index", "tree_size", "root_hash", "inclusion_path"})
            self.assertEqual(_b(body["root_hash"]), cp.root_hash)
            leaf = merkle.leaf_hash(self.entries[index], alg)
            self.assertTrue(
                merkle.verify_inclusion(
                    leaf, index, cp.size, [_b(p) for p in body["inclusion_path"]], cp.root_hash, alg
                )
            )

    def test_consistency_proofs_from_the_api_verify_between_checkpoints(self) -> None:
        old = self._published()
        append_entries([b"later-1", b"later-2"], kind="usage_record")
        sign_checkpoint()
        new = self._published()
        r = self.client.get(f"/api/v1/ledger/proof/consistency?old_size={old.size}&tree_size={new.size}")
        self.assertEqual(r.status_code, 200)
        body = r.json()
        self.assertEqual(set(body), {"old_size", "tree_size", "consistency_path"})
        proof = [_b(p) for p in body["consistency_path"]]
        self.assertTrue(merkle.verify_consistency(old.size, new.size, old.root_hash, new.root_hash, proof))

    def test_proofs_beyond_the_log_are_a_bad_request(self) -> None:
        r = self.client.get("/api/v1/ledger/proof/inclusion?index=0&tree_size=100000")
        self.assertEqual(r.status_code, 400)
        r = self.client.get("/api/v1/ledger/proof/consistency?old_size=5&tree_size=4")
        self.assertEqual(r.status_code, 400)

    def test_inspector_reads_any_entry(self) -> None:
        self.login(self.inspector)
        r = self.client.get("/api/v1/ledger/entries/3")
        self.assertEqual(r.status_code, 200)
        body = r.json()
        self.assertEqual(_b(body["entry"]), self.entries[3])
        self.assertEqual(_b(body["leaf_hash"]), merkle.leaf_hash(self.entries[3]))

    def test_provider_reads_its_own_entries_only(self) -> None:
        self.login(self.provider_user)
        self.assertEqual(self.client.get("/api/v1/ledger/entries/3").status_code, 200)
        self.assertEqual(self.client.get("/api/v1/ledger/entries/33").status_code, 404)

    def test_enterprise_reads_the_entries_that_concern_it(self) -> None:
        self.login(self.alice)
        self.assertEqual(self.client.get("/api/v1/ledger/entries/33").status_code, 200)
        self.assertEqual(self.client.get("/api/v1/ledger/entries/3").status_code, 404)
        self.login(self.bob)
        self.assertEqual(self.client.get("/api/v1/ledger/entries/33").status_code, 404)

    def test_outsiders_and_anonymous_clients_get_404_for_entries(self) -> None:
        self.assertEqual(self.client.get("/api/v1/ledger/entries/3").status_code, 404)
        self.login(self.outsider)
        self.assertEqual(self.client.get("/api/v1/ledger/entries/3").status_code, 404)
        self.login(self.inspector)
        self.assertEqual(self.client.get("/api/v1/ledger/entries/999999").status_code, 404)
