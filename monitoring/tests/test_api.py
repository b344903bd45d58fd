"""``POST /api/v1/usage/batches`` and ``GET /api/v1/usage/receipts/{id}``: the provider token API."""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.test import Client

from enterprises.models import Provider
from ledger import offline, services
from monitoring.actions import issue_token, revoke_token
from monitoring.models import ApiToken, Node, UsageRecord
from monitoring.tests.factories import hourly, make_node, signed
from testing.fixtures import BaseTestCase

URL = "/api/v1/usage/batches"


class UsageApiTests(BaseTestCase):
    node: Node
    key: Ed25519PrivateKey
    token_row: ApiToken
    token: str
    other_provider: Provider
    other_node: Node
    other_key: Ed25519PrivateKey
    other_token: str

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.node, cls.key = make_node(cls.provider)
        cls.token_row, cls.token = issue_token(cls.provider, actor=None, name="agent")
        cls.other_provider = Provider.objects.create(name="其他算力公司", status=Provider.Status.APPROVED)
        cls.other_node, cls.other_key = make_node(cls.other_provider, "other-gpu-1")
        _row, cls.other_token = issue_token(cls.other_provider, actor=None)

    def post(self, body: Any, token: str | None = None, client: Client | None = None) -> Any:
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        return (client or self.client).post(
            URL, data, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token or self.token}"
        )

    def test_a_batch_is_answered_with_results_and_a_checkpoint(self) -> None:
        records = hourly(self.key, 3)
        response = self.post({"records": records})
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertEqual(set(body), {"results", "checkpoint"})
        self.assertEqual([r["record_id"] for r in body["results"]], [r["record_id"] for r in records])
        self.assertTrue(
            all(r["status"] == "accepted" and isinstance(r["leaf_index"], int) for r in body["results"])
        )
        self.assertEqual(UsageRecord.objects.filter(provider=self.provider).count(), 3)
        self.assertIsNotNone(ApiToken.objects.get(pk=self.token_row.pk).last_used_at)

    def test_the_token_api_needs_no_csrf_token(self) -> None:
        response = self.post({"records": hourly(self.key, 1)}, client=Client(enforce_csrf_checks=True))
        self.assertEqual(response.status_code, 200)

    def test_a_missing_bad_or_revoked_token_gets_401(self) -> None:
        self.assertEqual(self.client.post(URL, "{}", content_type="application/json").status_code, 401)
        self.assertEqual(self.post({"records": []}, token="ydp_wrong").status_code, 401)
        row, raw = issue_token(self.provider, actor=None)
        revoke_token(row, actor=None)
        self.assertEqual(self.post({"records": []}, token=raw).status_code, 401)

    def test_a_provider_not_yet_approved_gets_403(self) -> None:
        pending = Provider.objects.create(name="待审核算力公司")
        _row, raw = issue_token(pending, actor=None)
        response = self.post({"records": []}, token=raw)
        self.assertEqual(response.status_code, 403)
        self.assertIn("尚未获批准", response.json()["detail"])

    def test_more_than_5000_records_are_refused_with_a_clear_message(self) -> None:
        response = self.post({"records": [{}] * 5001})
        self.assertEqual(response.status_code, 413)
        self.assertIn("每批最多5000条记录", response.json()["detail"])
        self.assertEqual(UsageRecord.objects.count(), 0)

    def test_a_body_that_is_not_a_batch_gets_400(self) -> None:
        self.assertEqual(self.post(b"{not json").status_code, 400)
        self.assertEqual(self.post({"items": []}).status_code, 400)

    def test_a_record_signed_by_another_providers_node_is_rejected_for_this_provider(self) -> None:
        record = signed(self.other_key, node_id="other-gpu-1")
        result = self.post({"records": [record]}).json()["results"][0]
        self.assertEqual((result["status"], result["code"]), ("rejected", "foreign_node"))

    def test_a_receipt_verifies_offline_with_the_platform_key(self) -> None:
        record = hourly(self.key, 1)[0]
        leaf = self.post({"records": [record]}).json()["results"][0]["leaf_index"]
        response = self.client.get(
            f"/api/v1/usage/receipts/{record['record_id']}", HTTP_AUTHORIZATION=f"Bearer {self.token}"
        )
        self.assertEqual(response.status_code, 200)
        receipt = response.json()
        self.assertEqual(receipt["leaf_index"], leaf)
        result = offline.verify_receipt(receipt, services.verifier_key())
        self.assertTrue(result.ok, result.problem)

    def test_it_lets_a_provider_token_read_the_log_entries_of_its_own_records_only(self) -> None:
        record = hourly(self.key, 1)[0]
        leaf = self.post({"records": [record]}).json()["results"][0]["leaf_index"]
        url = f"/api/v1/ledger/entries/{leaf}"
        response = self.client.get(url, HTTP_AUTHORIZATION=f"Bearer {self.token}")
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(base64.b64decode(response.json()["entry"]), services.entry(leaf))
        self.assertEqual(
            self.client.get(url, HTTP_AUTHORIZATION=f"Bearer {self.other_token}").status_code, 404
        )
        self.assertEqual(self.client.get(url, HTTP_AUTHORIZATION="Bearer ydp_unknown").status_code, 404)
        self.assertEqual(self.client.get(url).status_code, 404)
        revoke_token(self.token_row, actor=None)
        self.assertEqual(self.client.get(url, HTTP_AUTHORIZATION=f"Bearer {self.token}").status_code, 404)

    def test_another_providers_receipt_is_404(self) -> None:
        record = hourly(self.key, 1)[0]
        self.post({"records": [record]})
        response = self.client.get(
            f"/api/v1/usage/receipts/{record['record_id']}", HTTP_AUTHORIZATION=f"Bearer {self.other_token}"
        )
        self.assertEqual(response.status_code, 404)


class OpenApiTests(BaseTestCase):
    def test_the_usage_endpoints_are_documented(self) -> None:
        schema = self.client.get("/api/v1/openapi.json").json()
        self.assertIn("/api/v1/usage/batches", schema["paths"])
        body = schema["paths"]["/api/v1/usage/batches"]["post"]["requestBody"]
        self.assertEqual(
            body["content"]["application/json"]["schema"]["properties"]["records"]["maxItems"], 5000
        )
        self.assertIn("/api/v1/usage/receipts/{record_id}", schema["paths"])
