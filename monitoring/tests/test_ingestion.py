"""``record_usage_batch``: the checks of docs/monitoring.md and issue 8, idempotency and the log."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.utils import timezone

from agent.signing import canonical_record, sign_record
from enterprises.models import Provider
from ledger import merkle, note, services
from ledger.models import Entry
from monitoring.ingest import record_usage_batch
from monitoring.models import Node, RejectedRecord, UsageBatch, UsageRecord
from monitoring.tests.factories import BASE, hourly, make_node, signed, usage
from testing.fixtures import USCC_A, BaseTestCase, make_enterprise, valid_uscc


class IngestionTests(BaseTestCase):
    node: Node
    key: Ed25519PrivateKey
    other_provider: Provider
    other_node: Node
    other_key: Ed25519PrivateKey

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.node, cls.key = make_node(cls.provider)
        cls.other_provider = Provider.objects.create(name="其他算力公司", status=Provider.Status.APPROVED)
        cls.other_node, cls.other_key = make_node(cls.other_provider, "other-gpu-1")

    def send(self, records: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
        result = record_usage_batch(self.provider, records, actor_repr="test", **kwargs)
        return {r.record_id: r for r in result.results} | {"_checkpoint": result.checkpoint}

    def test_bad_records_are_rejected_with_reasons_and_the_good_ones_of_the_batch_accepted(self) -> None:
        stored = signed(self.key, gpu="GPU-stored", start=BASE)
        self.send([stored])
        good = signed(self.key, gpu="GPU-a", start=BASE)
        tampered = {**signed(self.key, gpu="GPU-b"), "gpu_seconds": 7200}
        foreign = signed(self.other_key, node_id="other-gpu-1", gpu="GPU-c")
        overlap_batch = signed(self.key, gpu="GPU-a", start=BASE + timedelta(minutes=30))
        overlap_stored = signed(self.key, gpu="GPU-stored", start=BASE + timedelta(minutes=59))
        future = signed(self.key, gpu="GPU-d", start=timezone.now() + timedelta(hours=1))
        good_too = signed(self.key, gpu="GPU-a", start=BASE + timedelta(hours=1))
        batch = [good, tampered, foreign, overlap_batch, overlap_stored, future, good_too]

        results = self.send(batch)

        expected = {
            good["record_id"]: ("accepted", None),
            tampered["record_id"]: ("rejected", "bad_signature"),
            foreign["record_id"]: ("rejected", "foreign_node"),
            overlap_batch["record_id"]: ("rejected", "overlap"),
            overlap_stored["record_id"]: ("rejected", "overlap"),
            future["record_id"]: ("rejected", "future"),
            good_too["record_id"]: ("accepted", None),
        }
        self.assertEqual({rid: (results[rid].status, results[rid].code) for rid in expected}, expected)
        self.assertEqual(results[tampered["record_id"]].reason, "签名无效")
        self.assertIn("不属于本算力提供方", results[foreign["record_id"]].reason)
        self.assertIn("时间重叠", results[overlap_batch["record_id"]].reason)
        self.assertIn("已有使用记录", results[overlap_stored["record_id"]].reason)
        self.assertEqual(results[future["record_id"]].reason, "结束时间晚于平台当前时间")
        self.assertEqual(set(UsageRecord.objects.values_list("gpu_uuid", flat=True)), {"GPU-stored", "GPU-a"})
        self.assertEqual(UsageRecord.objects.filter(gpu_uuid="GPU-a").count(), 2)
        batch_row = UsageBatch.objects.latest("id")
        self.assertEqual((batch_row.total, batch_row.accepted, batch_row.rejected), (7, 2, 5))
        self.assertEqual(
            sorted(RejectedRecord.objects.filter(batch=batch_row).values_list("code", flat=True)),
            ["bad_signature", "foreign_node", "future", "overlap", "overlap"],
        )

    def test_a_resent_batch_changes_nothing_and_answers_duplicate_with_the_same_leaf_indexes(self) -> None:
        batch = hourly(self.key, 5)
        first = self.send(batch)
        leaves = {rid: r.leaf_index for rid, r in first.items() if rid != "_checkpoint"}
        self.assertTrue(all(r.status == "accepted" for rid, r in first.items() if rid != "_checkpoint"))
        records_before = list(UsageRecord.objects.order_by("id").values())
        usage_entries = Entry.objects.filter(kind="usage_record").count()

        again = self.send(batch)

        self.assertEqual(
            {rid: (r.status, r.leaf_index) for rid, r in again.items() if rid != "_checkpoint"},
            {rid: ("duplicate", leaf) for rid, leaf in leaves.items()},
        )
        self.assertEqual(list(UsageRecord.objects.order_by("id").values()), records_before)
        self.assertEqual(Entry.objects.filter(kind="usage_record").count(), usage_entries)

    def test_each_accepted_records_inclusion_proof_verifies_against_the_returned_checkpoint(self) -> None:
        self.send(hourly(self.key, 3, gpu="GPU-earlier"))
        batch = hourly(self.key, 6)
        results = self.send(batch)
        checkpoint = note.open_checkpoint(results["_checkpoint"], services.verifier_key())
        alg = services.hash_alg()
        for record in batch:
            leaf_index = results[record["record_id"]].leaf_index
            entry = canonical_record(record)
            self.assertEqual(services.entry(leaf_index), entry)
            proof = services.inclusion_proof(leaf_index, checkpoint.size)
            self.assertTrue(
                merkle.verify_inclusion(
                    merkle.leaf_hash(entry, alg),
                    leaf_index,
                    checkpoint.size,
                    proof,
                    checkpoint.root_hash,
                    alg,
                )
            )
            self.assertEqual(json.loads(entry)["signature"], record["signature"])

    def test_a_record_id_repeated_in_one_batch_is_logged_once(self) -> None:
        record = signed(self.key)
        results = record_usage_batch(self.provider, [record, dict(record)], actor_repr="test").results
        self.assertEqual([r.status for r in results], ["accepted", "duplicate"])
        self.assertEqual(results[0].leaf_index, results[1].leaf_index)
        self.assertEqual(UsageRecord.objects.count(), 1)

    def test_a_record_id_reused_for_other_content_is_rejected(self) -> None:
        record = signed(self.key)
        self.send([record])
        changed = sign_record({**record, "work_ref": "另一部作品"}, self.key)
        self.assertEqual(self.send([changed])[record["record_id"]].code, "record_id_conflict")
        self.assertEqual(UsageRecord.objects.get().work_ref, "京剧备字2026001号")

    def test_schema_and_plausibility_failures_name_the_problem(self) -> None:
        cases = {
            "missing": (
                {k: v for k, v in usage().items() if k != "gpu_uuid"},
                "schema",
                "缺少字段：gpu_uuid",
            ),
            "uscc": (usage(uscc="91110000600037341X"), "uscc", "统一社会信用代码无效"),
            "scenario": (usage(scenario="mining"), "schema", "应用场景(scenario)"),
            "extra": ({**usage(), "price": 1}, "schema", "未定义的字段：price"),
            "cost": (usage(cost_cny="1.005"), "schema", "费用(cost_cny)"),
            "order": (
                usage(started_at="2026-03-01T09:00:00+08:00", ended_at="2026-03-01T08:00:00+08:00"),
                "time_order",
                "结束时间须晚于开始时间",
            ),
            "naive": (usage(started_at="2026-03-01T08:00:00"), "schema", "须带时区"),
            "seconds": (usage(gpu_seconds=7200), "gpu_seconds", "超过时间段长度"),
            "energy": (usage(energy_wh=1500), "energy", "能耗1500 Wh超过"),
            "count": (usage(gpu_count=0), "schema", "GPU数量(gpu_count)"),
        }
        records = {name: sign_record(record, self.key) for name, (record, _code, _text) in cases.items()}
        results = record_usage_batch(
            self.provider, list(records.values()) + ["not an object"], actor_repr="t"
        ).results
        for (name, (_record, code, text)), result in zip(cases.items(), results, strict=False):
            with self.subTest(name):
                self.assertEqual((result.status, result.code), ("rejected", code))
                self.assertIn(text, result.reason or "")
        self.assertEqual((results[-1].status, results[-1].reason), ("rejected", "记录须为JSON对象"))
        self.assertEqual(UsageRecord.objects.count(), 0)

    def test_unknown_disabled_and_unsigned_nodes_are_refused(self) -> None:
        disabled, disabled_key = make_node(self.provider, "old-gpu")
        disabled.active = False
        disabled.save()
        unknown = signed(self.key, node_id="nobody")
        off = signed(disabled_key, node_id="old-gpu")
        unsigned = usage(gpu="GPU-x")
        results = record_usage_batch(self.provider, [unknown, off, unsigned], actor_repr="t").results
        self.assertEqual([r.code for r in results], ["unknown_node", "inactive_node", "bad_signature"])

    def test_records_of_an_enterprise_registered_later_are_found_by_its_uscc(self) -> None:
        uscc = valid_uscc(424242)
        self.send([signed(self.key, uscc=uscc)])
        self.assertIsNone(UsageRecord.objects.get().enterprise_id)
        later = make_enterprise("后注册的短剧公司", uscc)
        self.assertEqual(UsageRecord.objects.for_enterprise(later).count(), 1)
        self.send([signed(self.key, uscc=uscc, start=BASE + timedelta(hours=2))])
        self.assertEqual(UsageRecord.objects.filter(enterprise=later).count(), 1)

    def test_records_are_linked_to_a_registered_enterprise_and_its_ledger_entries(self) -> None:
        results = self.send([signed(self.key, uscc=USCC_A)])
        record = UsageRecord.objects.get()
        self.assertEqual(record.enterprise, self.enterprise)
        entry = Entry.objects.get(leaf_index=record.leaf_index)
        self.assertEqual((entry.enterprise_id, entry.provider_id), (self.enterprise.pk, self.provider.pk))
        self.assertEqual(results[str(record.record_id)].leaf_index, record.leaf_index)

    def test_a_batch_is_audited(self) -> None:
        from ledger.models import AuditEvent

        self.send(hourly(self.key, 2))
        event = AuditEvent.objects.filter(action="usage.batch_receive").get()
        self.assertEqual((event.after or {})["accepted"], 2)
        self.assertEqual(event.actor_repr, "test")


def test_the_bulk_insert_names_every_column_of_usage_records() -> None:
    from monitoring.ingest import RECORD_COLUMNS

    columns = {f.column for f in UsageRecord._meta.concrete_fields if not f.primary_key}
    assert set(RECORD_COLUMNS) == columns
