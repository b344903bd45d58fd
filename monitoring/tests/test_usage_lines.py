"""``POST /api/v1/usage/lines``: providers of every kind report usage lines (docs/usage-formats.md)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from ledger.models import AuditEvent
from monitoring.actions import issue_token
from monitoring.models import ReportedUsageLine
from testing.fixtures import USCC_A, BaseTestCase

URL = "/api/v1/usage/lines"


def line(line_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "line_id": line_id,
        "enterprise_uscc": USCC_A,
        "work_ref": "京剧备2026-0001",
        "kind": "model_service",
        "vendor": "火山方舟",
        "category": "video",
        "sku": "doubao-seedance-1-0-pro",
        "task_id": "cgt-20261103100000-aaaa1",
        "day": "2026-11-03",
        "quantity": "245000",
        "unit": "token",
        "output_seconds": "5",
        "payable": "4.41",
        "paid": "4.41",
        **extra,
    }


class ReportedUsageLineTests(BaseTestCase):
    def post(self, body: Any) -> Any:
        _row, token = issue_token(self.provider, actor=None, name="reseller")
        return self.client.post(
            URL, json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
        )

    def test_a_reseller_reports_lines_naming_its_upstream_vendor_and_a_bad_line_is_named(self) -> None:
        response = self.post({"lines": [line("L-1"), line("L-2", unit="斤"), line("L-1")]})
        assert response.status_code == 200
        body = response.json()
        assert [r["status"] for r in body["results"]] == ["accepted", "rejected", "duplicate"]
        assert "unit 须为以下之一" in body["results"][1]["reason"]
        stored = ReportedUsageLine.objects.get()
        assert (stored.vendor, stored.provider, stored.quantity, stored.unit) == (
            "火山方舟",
            self.provider,
            Decimal(245000),
            "token",
        )
        event = AuditEvent.objects.filter(action="usage.lines").get()
        assert event.after is not None and event.after["sha256"] == [stored.line_sha256]

    def test_a_body_without_lines_is_refused_with_a_chinese_reason(self) -> None:
        response = self.post({"records": []})
        assert response.status_code == 400
        assert "lines" in response.json()["detail"]


class BillUploadTests(BaseTestCase):
    def test_a_provider_uploads_a_vendor_bill_export_in_the_portal_and_its_lines_are_reported(self) -> None:
        from pathlib import Path

        from django.core.files.uploadedfile import SimpleUploadedFile
        from django.urls import reverse

        fixtures = Path(__file__).resolve().parents[2] / "applications" / "tests" / "fixtures" / "usage"
        content = (fixtures / "volcengine_ListBillDetail.json").read_bytes()
        self.login(self.provider_user)
        response = self.client.post(
            reverse("monitoring:bill_upload"),
            {
                "enterprise_uscc": USCC_A,
                "work_ref": "京剧备2026-0001",
                "file": SimpleUploadedFile("bill.json", content, "application/json"),
            },
        )
        assert response.status_code == 200
        page = response.content.decode()
        assert "已计入 2 行" in page and "Count“many”不是数字" in page
        assert sorted(ReportedUsageLine.objects.values_list("vendor", "unit")) == [
            ("火山引擎", "instance_hour"),
            ("火山引擎", "token"),
        ]
        again = self.client.post(
            reverse("monitoring:bill_upload"),
            {
                "enterprise_uscc": USCC_A,
                "work_ref": "京剧备2026-0001",
                "file": SimpleUploadedFile("bill.json", content, "application/json"),
            },
        )
        assert "已计入 0 行，重复 2 行" in again.content.decode()
