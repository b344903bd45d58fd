"""The intake API at /api/v1/applications/: the same flow and the same Chinese errors as the pages."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import time_machine
from django.test import Client

from applications import actions
from applications.models import Application, Material, MaterialKind
from applications.states import Status
from applications.tests.factories import (
    NOW,
    add_required_materials,
    consumption_csv,
    make_draft,
    make_submittable,
)
from testing.fixtures import BaseTestCase, pdf_bytes, png_bytes, upload

BASE = "/api/v1/applications/"


@time_machine.travel(NOW, tick=False)
class ApiFlowTests(BaseTestCase):
    def setUp(self) -> None:
        self.login(self.alice)

    def patch(self, application_id: int, body: dict[str, Any]) -> Any:
        return self.client.patch(f"{BASE}{application_id}", json.dumps(body), content_type="application/json")

    def test_the_whole_flow_create_update_upload_submit_read(self) -> None:
        created = self.client.post(BASE, {}, content_type="application/json")
        assert created.status_code == 201, created.content
        data = created.json()
        assert data["status"] == "draft"
        assert data["fields"]["enterprise_name"] == self.enterprise.name  # rows 1–9 prefilled
        app_id = data["id"]

        response = self.patch(
            app_id,
            {
                "work_title": "龙城夜雨",
                "filing_number": "京剧备2026-0001",
                "work_minutes": 60,
                "platform_name": "抖音",
                "launch_date": "2026-03-02",
                "launch_proof_number": "无",
                "overseas": False,
                "provider_name": "怀柔智算中心",
                "compute_minutes": 60,
                "total_compute_cost": "50000.00",
                "declaration_accepted": True,
                "signer_name": "张三",
            },
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["requested_amount"] == "12000.00"
        assert body["apply_deadline"] == "2026-04-14"
        assert body["fields"]["total_compute_cost"] == "50000.00"

        for kind in Application.objects.get(pk=app_id).required_material_kinds():
            if kind == MaterialKind.CONSUMPTION_DETAIL:
                file = upload("明细.csv", consumption_csv(), "text/csv")
            elif kind == MaterialKind.LAUNCH_PROOF:
                file = upload("截图.png", png_bytes(), "image/png")
            else:
                file = upload(f"{kind}.pdf", pdf_bytes(), "application/pdf")
            uploaded = self.client.post(f"{BASE}{app_id}/materials", {"kind": kind, "file": file})
            assert uploaded.status_code == 201, uploaded.content
            assert len(uploaded.json()["sha256"]) == 64

        assert self.client.get(f"{BASE}{app_id}/problems").json() == {"errors": {}, "rows": None}
        submitted = self.client.post(f"{BASE}{app_id}/submit")
        assert submitted.status_code == 200, submitted.content
        assert submitted.json()["reference"] == f"YD2026-{app_id:06d}"
        assert submitted.json()["received_date"] == "2026-03-20"

        read = self.client.get(f"{BASE}{app_id}").json()
        assert read["status"] == "submitted"
        assert all(m["locked"] for m in read["materials"])
        listed = self.client.get(BASE).json()
        assert [a["id"] for a in listed] == [app_id]

    def test_field_errors_are_keyed_by_field_in_chinese_and_nothing_is_saved(self) -> None:
        application = actions.create_draft(actor=self.alice)
        response = self.patch(
            application.pk,
            {
                "work_title": "龙城夜雨",
                "work_minutes": 0,
                "handler_phone": "12345",
                "total_compute_cost": "12.345",
                "launch_date": "2026-13-01",
            },
        )
        assert response.status_code == 422
        errors = response.json()["errors"]
        assert errors["work_minutes"] == ["应为不小于 1 的整数"]
        assert "手机号或固定电话" in errors["handler_phone"][0]
        assert errors["total_compute_cost"] == ["金额至多保留两位小数"]
        assert "有效的日期" in errors["launch_date"][0]
        assert "work_title" not in errors
        application.refresh_from_db()
        assert application.work_title == ""  # all or nothing

    def test_amount_status_and_enterprise_are_refused_naming_them(self) -> None:
        application = make_draft(self.alice)
        response = self.patch(
            application.pk,
            {
                "requested_amount": "99999.00",
                "status": "approved",
                "enterprise": self.other_enterprise.pk,
                "granted_amount": "1",
                "work_title": "新名字",
            },
        )
        assert response.status_code == 422
        errors = response.json()["errors"]
        for field in ("requested_amount", "status", "enterprise", "granted_amount"):
            assert errors[field] == ["该字段由平台设置，申请人不能填写"]
        application.refresh_from_db()
        assert application.work_title == "龙城夜雨"
        assert application.status == Status.DRAFT
        assert application.enterprise_id == self.enterprise.pk
        created = self.client.post(BASE, json.dumps({"status": "paid"}), content_type="application/json")
        assert created.status_code == 422
        assert Application.objects.filter(enterprise=self.enterprise).count() == 1

    def test_unknown_fields_and_non_scalar_values_are_refused(self) -> None:
        application = make_draft(self.alice)
        response = self.patch(application.pk, {"colour": "red", "work_title": ["a"]})
        assert response.json()["errors"] == {"colour": ["未知字段"], "work_title": ["值的类型不正确"]}

    def test_a_taken_filing_number_is_refused_at_the_field(self) -> None:
        other = make_submittable(self.bob)
        actions.submit_application(other, actor=self.bob)
        application = make_draft(self.alice, filing_number="X-1")
        response = self.patch(application.pk, {"filing_number": "京剧备2026-0001"})
        assert response.status_code == 422
        assert "同一作品只能申报一次" in response.json()["errors"]["filing_number"][0]

    def test_submission_refused_lists_every_problem(self) -> None:
        application = make_draft(self.alice, total_compute_cost=Decimal("52000.00"))
        response = self.client.post(f"{BASE}{application.pk}/submit")
        assert response.status_code == 422
        errors = response.json()["errors"]
        assert "缺少以下材料" in errors["materials"][0]

    def test_totals_mismatch_blocks_submission_via_the_api(self) -> None:
        application = make_draft(self.alice, total_compute_cost=Decimal("52000.00"))
        add_required_materials(application, self.alice)
        response = self.client.post(f"{BASE}{application.pk}/submit")
        assert response.status_code == 422
        assert "第23行总算力成本 52,000.00 元应等于按明细计算的实付算力成本 50,000.00 元" in response.json()["errors"]["total_compute_cost"][0]

    def test_bad_uploads_are_refused_with_a_message(self) -> None:
        application = actions.create_draft(actor=self.alice)
        url = f"{BASE}{application.pk}/materials"
        exe = self.client.post(
            url, {"kind": "business_license", "file": upload("a.pdf", b"MZ" + b"\0" * 100)}
        )
        assert exe.status_code == 422
        assert "内容不是允许的类型" in exe.json()["errors"]["file"][0]
        empty = self.client.post(url, {"kind": "business_license", "file": upload("b.pdf", b"")})
        assert "空文件" in empty.json()["errors"]["file"][0]
        kind = self.client.post(url, {"kind": "selfie", "file": upload("c.pdf", pdf_bytes())})
        assert "材料类别无效" in kind.json()["errors"]["kind"][0]
        rows = [("JOB-1", "2026-03-01 08:00", "2026-03-01 08:30", "H200", 8, 30, "5000", "20000.00", "跳舞")]
        bad = self.client.post(
            url, {"kind": "consumption_detail", "file": upload("d.csv", consumption_csv(rows))}
        )
        assert bad.status_code == 422
        assert bad.json()["rows"][0]["row"] == 2 and bad.json()["rows"][0]["column"] == "scenario"
        assert not Material.objects.exists()

    def test_a_vendor_json_export_is_accepted_as_consumption_detail_and_an_unreadable_one_refused(self) -> None:
        from pathlib import Path

        application = actions.create_draft(actor=self.alice)
        url = f"{BASE}{application.pk}/materials"
        fixture = Path(__file__).resolve().parent / "fixtures" / "usage" / "ark_tasks.json"
        good = self.client.post(url, {"kind": "consumption_detail", "file": upload("ark.json", fixture.read_bytes())})
        assert good.status_code == 201
        unknown = self.client.post(url, {"kind": "consumption_detail", "file": upload("x.json", b'{"hello": 1}')})
        assert unknown.status_code == 422
        assert "无法识别的文件格式" in unknown.json()["rows"][0]["message"]

    def test_a_draft_material_can_be_deleted_but_not_after_submission(self) -> None:
        application = make_submittable(self.alice)
        material = application.materials.get(kind=MaterialKind.USAGE_LOG)
        assert self.client.delete(f"{BASE}{application.pk}/materials/{material.pk}").status_code == 204
        add_required_materials(
            application, self.alice, skip=tuple(k for k in MaterialKind if k != "usage_log")
        )
        actions.submit_application(application, actor=self.alice)
        locked = application.materials.filter(deleted=False).first()
        assert locked is not None
        assert self.client.delete(f"{BASE}{application.pk}/materials/{locked.pk}").status_code == 409

    def test_a_submitted_application_cannot_be_patched(self) -> None:
        application = make_submittable(self.alice)
        actions.submit_application(application, actor=self.alice)
        response = self.patch(application.pk, {"work_title": "改名"})
        assert response.status_code == 409

    def test_withdrawal(self) -> None:
        application = make_draft(self.alice)
        response = self.client.post(
            f"{BASE}{application.pk}/withdraw",
            json.dumps({"reason": "重复"}),
            content_type="application/json",
        )
        assert response.status_code == 200
        assert response.json()["status"] == "withdrawn"

    def test_the_pdf_and_materials_download_with_attachment_and_nosniff(self) -> None:
        application = make_submittable(self.alice)
        material = application.materials.first()
        assert material is not None
        response = self.client.get(f"{BASE}{application.pk}/materials/{material.pk}")
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith("attachment")
        assert response["X-Content-Type-Options"] == "nosniff"


@time_machine.travel(NOW, tick=False)
class ApiAccessTests(BaseTestCase):
    def setUp(self) -> None:
        self.application = make_submittable(self.alice)
        self.material = self.application.materials.first()

    def test_another_enterprises_user_gets_404_for_application_materials_and_pdf(self) -> None:
        self.login(self.bob)
        app_id = self.application.pk
        assert self.material is not None
        for method, url in (
            ("get", f"{BASE}{app_id}"),
            ("get", f"{BASE}{app_id}/pdf"),
            ("get", f"{BASE}{app_id}/problems"),
            ("get", f"{BASE}{app_id}/materials/{self.material.pk}"),
            ("delete", f"{BASE}{app_id}/materials/{self.material.pk}"),
            ("post", f"{BASE}{app_id}/submit"),
            ("post", f"{BASE}{app_id}/withdraw"),
        ):
            response = getattr(self.client, method)(url)
            assert response.status_code == 404, (method, url, response.status_code)
        response = self.client.patch(f"{BASE}{app_id}", "{}", content_type="application/json")
        assert response.status_code == 404
        upload_response = self.client.post(
            f"{BASE}{app_id}/materials", {"kind": "other", "file": upload("x.pdf", pdf_bytes())}
        )
        assert upload_response.status_code == 404
        assert self.client.get(BASE).json() == []

    def test_anonymous_requests_are_unauthorised(self) -> None:
        assert self.client.get(BASE).status_code == 401
        assert self.client.get(f"{BASE}{self.application.pk}").status_code == 401

    def test_writes_need_the_csrf_token(self) -> None:
        client = Client(enforce_csrf_checks=True)
        client.force_login(self.alice)
        response = client.patch(
            f"{BASE}{self.application.pk}", json.dumps({"work_title": "x"}), content_type="application/json"
        )
        assert response.status_code == 403
        client.get("/applications/")  # sets the CSRF cookie
        token = client.cookies["csrftoken"].value
        response = client.patch(
            f"{BASE}{self.application.pk}",
            json.dumps({"work_title": "新标题"}),
            content_type="application/json",
            headers={"X-CSRFToken": token},
        )
        assert response.status_code == 200, response.content

    def test_the_openapi_schema_describes_the_flow(self) -> None:
        schema = self.client.get("/api/v1/openapi.json").json()
        paths = schema["paths"]
        assert "/api/v1/applications/" in paths
        assert "patch" in paths["/api/v1/applications/{application_id}"]
        assert "/api/v1/applications/{application_id}/materials" in paths
        assert "/api/v1/applications/{application_id}/submit" in paths
        body = paths["/api/v1/applications/{application_id}"]["patch"]["requestBody"]["content"][
            "application/json"
        ]
        assert "work_minutes" in body["schema"]["properties"]
