"""A record id reused for other content is a conflict inside one batch, as it is across batches."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.signing import sign_record
from monitoring.ingest import record_usage_batch
from monitoring.models import Node, RejectedRecord, UsageRecord
from monitoring.tests.factories import make_node, signed
from testing.fixtures import BaseTestCase


class BatchConflictTests(BaseTestCase):
    node: Node
    key: Ed25519PrivateKey

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.node, cls.key = make_node(cls.provider)

    def test_a_record_id_reused_with_other_content_inside_one_batch_is_a_conflict(self) -> None:
        record = signed(self.key)
        changed = sign_record({**record, "work_ref": "另一部作品"}, self.key)
        results = record_usage_batch(
            self.provider, [record, changed, dict(record)], actor_repr="test"
        ).results
        self.assertEqual([r.status for r in results], ["accepted", "rejected", "duplicate"])
        self.assertEqual(results[1].code, "record_id_conflict")
        self.assertEqual(results[2].leaf_index, results[0].leaf_index)
        self.assertEqual(UsageRecord.objects.get().work_ref, "京剧备字2026001号")
        self.assertEqual(RejectedRecord.objects.get().code, "record_id_conflict")
