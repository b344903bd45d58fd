"""One bad record never sinks a batch: values the database or JSON cannot hold are rejections with a reason."""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from monitoring.actions import issue_token
from monitoring.models import Node, RejectedRecord, UsageRecord
from monitoring.tests.factories import BASE, signed
from testing.fixtures import BaseTestCase

URL = "/api/v1/usage/batches"

# field, raw JSON text of the value (not expressible with json.dumps), what the reason names
BAD_VALUES: list[tuple[str, str, str]] = [
    ("gpu_seconds", "NaN", "gpu_seconds"),
    ("energy_wh", "Infinity", "energy_wh"),
    ("avg_util_pct", "1e400", "avg_util_pct"),
    ("started_at", '"0001-01-01T00:00:00+08:00"', "started_at"),
    ("gpu_count", str(2**31), "gpu_count"),
    ("cost_cny", '"1234567890123.00"', "cost_cny"),
    ("work_ref", '"京剧\\u0000备字"', "work_ref"),
    ("job_id", '"job-\\ud800"', "job_id"),
    ("gpu_model", '"H200\\udfff"', "gpu_model"),
    ("record_id", '"\\ud83d-not-a-uuid"', "record_id"),
]


class HostileBatchTests(BaseTestCase):
    node: Node
    key: Ed25519PrivateKey
    token: str

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        from monitoring.tests.factories import make_node

        cls.node, cls.key = make_node(cls.provider)
        _row, cls.token = issue_token(cls.provider, actor=None, name="agent")

    def post(self, body: str | bytes) -> Any:
        return self.client.post(
            URL, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {self.token}"
        )

    def test_it_stores_the_good_record_and_rejects_each_bad_one_with_a_reason(self) -> None:
        good = signed(self.key, gpu="GPU-good", start=BASE)
        texts = [json.dumps(good)]
        for i, (field, raw, _named) in enumerate(BAD_VALUES):
            record = signed(self.key, gpu=f"GPU-bad-{i}", start=BASE)
            record[field] = "@@BAD@@"
            texts.append(json.dumps(record).replace('"@@BAD@@"', raw))
        unknown = signed(self.key, gpu="GPU-unknown", start=BASE)
        texts.append(json.dumps(unknown)[:-1] + ', "extra\\u0000\\ud800": [NaN, -Infinity, 1e999]}')
        response = self.post('{"records": [' + ", ".join(texts) + "]}")

        self.assertEqual(response.status_code, 200, response.content[:500])
        results = response.json()["results"]
        self.assertEqual(len(results), len(BAD_VALUES) + 2)
        self.assertEqual(results[0]["status"], "accepted")
        self.assertTrue(UsageRecord.objects.filter(record_id=good["record_id"]).exists())
        for result, (_field, _raw, named) in zip(results[1:], BAD_VALUES, strict=False):
            self.assertEqual(result["status"], "rejected", result)
            self.assertIn(named, result["reason"])
        self.assertEqual(results[-1]["status"], "rejected")
        self.assertIn("未定义的字段", results[-1]["reason"])
        self.assertEqual(UsageRecord.objects.count(), 1)
        stored = list(RejectedRecord.objects.order_by("id"))
        self.assertEqual(len(stored), len(BAD_VALUES) + 1)
        nan_payload = stored[0].payload
        assert isinstance(nan_payload, dict)
        self.assertEqual(nan_payload["gpu_seconds"], "nan")
        self.assertEqual(stored[6].payload["work_ref"], "京剧\\u0000备字")  # type: ignore[index]
        self.assertEqual(stored[-1].payload["extra\\u0000\\ud800"], ["nan", "-inf", "inf"])  # type: ignore[index]

    def test_it_answers_a_body_nested_a_hundred_thousand_deep_with_400(self) -> None:
        response = self.post('{"records": ' + "[" * 100_000 + "]" * 100_000 + "}")
        self.assertEqual(response.status_code, 400)
        self.assertIn("detail", response.json())
