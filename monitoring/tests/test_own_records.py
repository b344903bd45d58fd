"""A provider finds its own records: per batch the accepted ones with record id, leaf index and
receipt (portal and API), generated record ids shown; another provider's token sees none."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from enterprises.models import Provider
from monitoring.actions import issue_token
from monitoring.models import Node, UsageBatch, UsageRecord
from monitoring.tests.factories import BASE, hourly, make_node, usage
from monitoring.tests.test_commands import csv_bytes
from testing.fixtures import BaseTestCase, upload

RECORDS = "/api/v1/usage/records"


class OwnRecordsTests(BaseTestCase):
    node: Node
    key: Ed25519PrivateKey
    token: str
    other_token: str

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.node, cls.key = make_node(cls.provider)
        _row, cls.token = issue_token(cls.provider, actor=None, name="agent")
        other = Provider.objects.create(name="其他算力公司", status=Provider.Status.APPROVED)
        _row, cls.other_token = issue_token(other, actor=None)

    def upload_batch(self, records: list[dict[str, Any]]) -> UsageBatch:
        self.login(self.provider_user)
        response = self.client.post("/monitoring/upload/", {"file": upload("usage.csv", csv_bytes(records))})
        self.assertEqual(response.status_code, 302, response.content.decode()[:2000])
        return UsageBatch.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[1]))

    def api(self, token: str, **params: Any) -> Any:
        return self.client.get(RECORDS, params, HTTP_AUTHORIZATION=f"Bearer {token}")

    def test_it_lists_a_batchs_records_with_ids_leaf_indexes_and_receipts_in_the_portal(self) -> None:
        generated = usage(node_id=self.node.node_id, gpu="GPU-g", job_id="job-no-id", record_id="")
        self.upload_batch(hourly(self.key, 1, gpu="GPU-x", start=BASE - dt.timedelta(days=1)))
        batch = self.upload_batch([*hourly(self.key, 2), generated])
        records = list(UsageRecord.objects.filter(batch=batch).order_by("leaf_index"))
        self.assertEqual(len(records), 3)
        page = self.client.get(f"/monitoring/batches/{batch.pk}/").content.decode()
        for record in records:
            self.assertIn(str(record.record_id), page)  # the generated one too
            self.assertIn(f"/monitoring/records/{record.record_id}/receipt.json", page)
            self.assertIn(f'<td class="num">{record.leaf_index}</td>', page)
        listing = self.client.get("/monitoring/records/", {"batch": batch.pk}).content.decode()
        self.assertEqual(listing.count("receipt.json"), 3)
        receipt = self.client.get(f"/monitoring/records/{records[0].record_id}/receipt.json")
        self.assertEqual(receipt.status_code, 200)
        self.assertEqual(json.loads(receipt.content)["leaf_index"], records[0].leaf_index)

    def test_it_lists_a_batchs_records_through_the_api_and_hides_them_from_another_provider(self) -> None:
        self.upload_batch(hourly(self.key, 1, gpu="GPU-x", start=BASE - dt.timedelta(days=1)))
        batch = self.upload_batch(hourly(self.key, 2))
        response = self.api(self.token, batch=batch.pk)
        self.assertEqual(response.status_code, 200)
        body = response.json()
        expected = list(UsageRecord.objects.filter(batch=batch).order_by("received_at", "leaf_index"))
        self.assertEqual(body["count"], 2)
        self.assertEqual([r["record_id"] for r in body["records"]], [str(r.record_id) for r in expected])
        self.assertEqual([r["leaf_index"] for r in body["records"]], [r.leaf_index for r in expected])
        self.assertEqual(self.api(self.token).json()["count"], 3)
        receipt = self.client.get(
            f"/api/v1/usage/receipts/{expected[0].record_id}", HTTP_AUTHORIZATION=f"Bearer {self.token}"
        ).json()
        self.assertEqual(
            (receipt["record_id"], receipt["leaf_index"]),
            (str(expected[0].record_id), expected[0].leaf_index),
        )
        # Another provider's token sees none of them, asked by batch or by time.
        self.assertEqual(
            self.api(self.other_token, batch=batch.pk).json(), {"count": 0, "offset": 0, "records": []}
        )
        self.assertEqual(self.api(self.other_token).json()["count"], 0)
        self.assertEqual(
            self.client.get(
                f"/api/v1/usage/receipts/{expected[0].record_id}",
                HTTP_AUTHORIZATION=f"Bearer {self.other_token}",
            ).status_code,
            404,
        )
        self.login(self.bob)
        self.assertEqual(self.client.get("/monitoring/records/", {"batch": batch.pk}).status_code, 403)

    def test_it_filters_the_api_listing_by_time_received(self) -> None:
        self.upload_batch(hourly(self.key, 2))
        received = UsageRecord.objects.filter(provider=self.provider).first()
        assert received is not None
        later = (received.received_at + dt.timedelta(seconds=1)).isoformat()
        self.assertEqual(self.api(self.token, until=later).json()["count"], 2)
        self.assertEqual(self.api(self.token, since=later).json()["count"], 0)
        self.assertEqual(self.api(self.token, limit=0).status_code, 400)


class BatchNameTests(BaseTestCase):
    def test_it_names_a_batch_by_its_beijing_time_in_the_audit_log(self) -> None:
        batch = UsageBatch(provider=self.provider, received_at=dt.datetime(2026, 12, 5, 1, 0, 5, tzinfo=dt.UTC))
        self.assertIn("2026年12月5日 09:00:05", str(batch))
        self.assertNotIn("01:00", str(batch))
