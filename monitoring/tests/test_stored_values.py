"""What ingestion stores: every accepted value exactly as the checks read it, in its row and its log entry,
whichever way the rows reach the database (a binary COPY on PostgreSQL, bulk inserts elsewhere)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.test import TestCase

from agent.signing import canonical_record
from enterprises.models import Enterprise, Provider
from ledger.models import Entry
from monitoring.ingest import record_usage_batch
from monitoring.models import UsageRecord
from monitoring.schemas import parse_record
from monitoring.tests.factories import BASE, make_node, signed
from testing.fixtures import USCC_A

# The columns holding a checked field under its own name (``node_name`` holds the record's node_id).
COLUMNS = (
    "enterprise_uscc", "work_ref", "job_id", "scenario", "gpu_model", "gpu_uuid", "gpu_count",
    "started_at", "ended_at", "gpu_seconds", "avg_util_pct", "max_mem_mib", "energy_wh", "cost_cny", "signature",
)  # fmt: skip


class StoredValuesTests(TestCase):
    def test_it_stores_every_accepted_value_as_the_checks_read_it(self) -> None:
        enterprise = Enterprise.objects.create(
            name="北京影都智造文化传媒有限公司", uscc=USCC_A, status=Enterprise.Status.VERIFIED
        )
        provider = Provider.objects.create(name="怀柔智算中心", status=Provider.Status.APPROVED)
        node, key = make_node(provider)
        records = [
            signed(
                key,
                gpu="GPU-a",
                gpu_model=" NVIDIA\tH200 \\ 测试 ",
                job_id="",
                cost_cny="0.01",
                avg_util_pct=99.99,
                max_mem_mib=2**40,
            ),
            signed(
                key,
                gpu="GPU-b",
                start=BASE + timedelta(days=1),
                minutes=0.5,
                work_ref="京剧备字2026002号\n第二集",
                cost_cny="999999999999.99",
                energy_wh=0.0,
            ),
        ]
        result = record_usage_batch(provider, records, actor_repr="test")
        self.assertEqual([r.status for r in result.results], ["accepted", "accepted"])
        rows = {str(row.record_id): row for row in UsageRecord.objects.all()}
        for record, answer in zip(records, result.results, strict=True):
            fields = parse_record(record, require_signature=True)
            row = rows[record["record_id"]]
            with self.subTest(record["gpu_uuid"]):
                self.assertEqual(
                    {name: getattr(row, name) for name in COLUMNS},
                    {name: getattr(fields, name) for name in COLUMNS},
                )
                self.assertEqual(
                    (row.node_name, row.node_id, row.enterprise_id, row.batch_id, row.signed),
                    (node.node_id, node.pk, enterprise.pk, result.batch.pk, True),
                )
                self.assertEqual(row.leaf_index, answer.leaf_index)
                entry = Entry.objects.get(leaf_index=row.leaf_index)
                self.assertEqual(bytes(entry.data), canonical_record(record))
                self.assertEqual(row.entry_sha256, hashlib.sha256(bytes(entry.data)).hexdigest())
                self.assertEqual(
                    (entry.kind, entry.enterprise_id, entry.provider_id),
                    ("usage_record", enterprise.pk, provider.pk),
                )
