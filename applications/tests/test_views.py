"""The guided web flow: steps, field errors that keep what was typed, materials, PDF, detail, access."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import time_machine
from django.core import mail
from django.test import override_settings
from django.urls import reverse

from applications import actions
from applications.models import Application, Material, MaterialKind
from applications.states import Status
from applications.tests.factories import (
    LAUNCH_DEADLINE,
    NOW,
    add_required_materials,
    checked,
    consumption_csv,
    make_draft,
    make_submittable,
)
from ledger.models import AuditEvent
from testing.fixtures import BaseTestCase, pdf_bytes, png_bytes, upload


def step_url(application: Application, step: str) -> str:
    return reverse("applications:step", kwargs={"pk": application.pk, "step": step})


@time_machine.travel(NOW, tick=False)
class StepTests(BaseTestCase):
    def setUp(self) -> None:
        self.login(self.alice)

    def test_start_creates_a_draft_and_opens_step_1_with_rows_1_to_9_prefilled(self) -> None:
        response = self.client.post(reverse("applications:start"))
        application = Application.objects.get(enterprise=self.enterprise)
        self.assertRedirects(response, step_url(application, "enterprise"))
        page = self.client.get(step_url(application, "enterprise")).content.decode()
        assert 'value="北京影都智造文化传媒有限公司"' in page
        assert self.enterprise.uscc in page
        assert "lisi@example.cn" in page

    def test_a_pending_enterprise_is_told_it_cannot_apply_yet(self) -> None:
        self.enterprise.status = self.enterprise.Status.PENDING
        self.enterprise.save()
        response = self.client.get(reverse("applications:start"))
        self.assertContains(response, "尚未通过区文促中心核验")
        self.client.post(reverse("applications:start"))
        assert not Application.objects.exists()

    def test_a_field_error_is_shown_in_chinese_and_nothing_typed_is_lost(self) -> None:
        application = actions.create_draft(actor=self.alice)
        response = self.client.post(
            step_url(application, "work"),
            {
                "work_title": "龙城夜雨",
                "filing_number": "京剧备2026-0001",
                "work_minutes": "六十",
                "platform_name": "快手",
                "launch_date": "2026-03-02",
                "launch_proof_number": "无",
                "go": "next",
            },
        )
        assert response.status_code == 422
        page = response.content.decode()
        assert "请填写整数分钟" in page
        assert 'value="六十"' in page  # the wrong value is shown again to be corrected
        assert 'value="龙城夜雨"' in page
        application.refresh_from_db()
        assert application.work_title == "龙城夜雨"  # the correct values were saved
        assert application.platform_name == "快手"
        assert application.work_minutes is None

    def test_next_requires_the_steps_rows_but_save_does_not(self) -> None:
        application = actions.create_draft(actor=self.alice)
        response = self.client.post(step_url(application, "work"), {"work_title": "龙城夜雨", "go": "save"})
        self.assertRedirects(response, step_url(application, "work"))
        response = self.client.post(step_url(application, "work"), {"work_title": "龙城夜雨", "go": "next"})
        assert response.status_code == 422
        self.assertContains(response, "请填写作品备案证明编号", status_code=422)

    def test_valid_step_moves_to_the_next_and_shows_the_apply_deadline(self) -> None:
        application = actions.create_draft(actor=self.alice)
        data = {
            "work_title": "龙城夜雨",
            "filing_number": "京剧备2026-0001",
            "work_minutes": "60",
            "platform_name": "抖音",
            "launch_date": "2026-03-02",
            "launch_proof_number": "无",
            "go": "next",
        }
        response = self.client.post(step_url(application, "work"), data)
        self.assertRedirects(response, step_url(application, "overseas"))
        page = self.client.get(step_url(application, "work"))
        self.assertContains(page, "申报截止日为 2026年4月14日")

    def test_a_launch_date_past_the_deadline_is_refused_at_the_field_naming_the_deadline(self) -> None:
        application = actions.create_draft(actor=self.alice)
        with time_machine.travel(dt.datetime(2026, 4, 20, 9, 0, tzinfo=NOW.tzinfo), tick=False):
            self.login(self.alice)  # a month later the old session has timed out
            response = self.client.post(
                step_url(application, "work"),
                {
                    "work_title": "龙城夜雨",
                    "filing_number": "F-1",
                    "work_minutes": "60",
                    "platform_name": "抖音",
                    "launch_date": "2026-03-02",
                    "launch_proof_number": "无",
                    "go": "next",
                },
            )
        self.assertContains(response, "截止日为 2026年4月14日", status_code=422)

    def test_row_1_must_equal_the_registered_name(self) -> None:
        application = actions.create_draft(actor=self.alice)
        data = {
            field: getattr(application, field)
            for field in (
                "uscc",
                "registered_address",
                "operating_address",
                "legal_rep_name",
                "legal_rep_phone",
                "handler_name",
                "handler_phone",
                "handler_email",
            )
        }
        response = self.client.post(
            step_url(application, "enterprise"), {**data, "enterprise_name": "北京影都智造", "go": "next"}
        )
        self.assertContains(response, "须与注册的企业名称", status_code=422)

    def test_bad_uscc_phone_and_email_get_their_own_messages(self) -> None:
        application = actions.create_draft(actor=self.alice)
        response = self.client.post(
            step_url(application, "enterprise"),
            {
                "uscc": "91110116MA01ABCD12",
                "legal_rep_phone": "12345678901",
                "handler_email": "lisi@",
                "go": "save",
            },
        )
        page = response.content.decode()
        assert "校验位错误" in page
        assert "有效的中国大陆手机号或固定电话" in page
        assert "电子邮箱格式不正确" in page

    def test_overseas_rows_appear_only_when_row_16_is_yes_without_javascript(self) -> None:
        application = make_draft(self.alice)
        page = self.client.get(step_url(application, "overseas")).content.decode()
        assert 'id="overseas-fields" hidden' in page
        response = self.client.post(step_url(application, "overseas"), {"overseas": "1", "go": "next"})
        assert response.status_code == 422
        page = response.content.decode()
        assert 'id="overseas-fields" hidden' not in page
        assert "出海发行须填写出海发行协议编号" in page
        application.refresh_from_db()
        assert application.overseas is True
        assert (
            'id="overseas-fields" hidden'
            not in self.client.get(step_url(application, "overseas")).content.decode()
        )

    def test_the_compute_step_shows_rows_24_25_with_breakdown_and_the_quota_left(self) -> None:
        application = make_draft(self.alice)
        response = self.client.get(step_url(application, "compute"))
        self.assertContains(response, "常规算力服务支持")
        self.assertContains(response, "12,000.00 元")
        self.assertContains(response, "每分钟上限")
        self.assertContains(response, "100,000.00 元")  # quota left this year
        fragment = self.client.get(
            reverse("applications:estimate", kwargs={"pk": application.pk}), {"total_compute_cost": "20000"}
        )
        self.assertContains(fragment, "6,000.00 元")  # 20,000 × 30 %, as typed, not yet saved

    def test_row_22_must_equal_row_12(self) -> None:
        application = make_draft(self.alice)
        response = self.client.post(
            step_url(application, "compute"),
            {
                "provider_name": "怀柔智算中心",
                "compute_minutes": "55",
                "total_compute_cost": "50000",
                "go": "next",
            },
        )
        self.assertContains(response, "须与作品制作时长（60 分钟）一致", status_code=422)

    def test_an_applicant_cannot_set_amount_status_or_enterprise_through_the_form(self) -> None:
        application = make_draft(self.alice)
        self.client.post(
            step_url(application, "compute"),
            {
                "provider_name": "怀柔智算中心",
                "compute_minutes": "60",
                "total_compute_cost": "50000",
                "requested_amount": "99999",
                "granted_amount": "99999",
                "status": "approved",
                "enterprise": str(self.other_enterprise.pk),
                "enterprise_id": str(self.other_enterprise.pk),
                "go": "save",
            },
        )
        application.refresh_from_db()
        assert application.requested_amount == Decimal("12000.00")
        assert application.granted_amount is None
        assert application.status == Status.DRAFT
        assert application.enterprise_id == self.enterprise.pk

    def test_the_confirm_step_lists_everything_still_wrong_with_links_to_the_steps(self) -> None:
        application = make_draft(self.alice, work_title="")
        response = self.client.get(step_url(application, "confirm"))
        self.assertContains(response, "提交前还需处理")
        self.assertContains(response, "请填写短剧作品名称")
        self.assertContains(response, "缺少以下材料")
        self.assertContains(response, step_url(application, "work"))

    def test_submitting_an_incomplete_draft_is_refused_with_the_count(self) -> None:
        application = make_draft(self.alice)
        response = self.client.post(
            step_url(application, "confirm"),
            {"declaration_accepted": "on", "signer_name": "张三", "go": "submit"},
            follow=True,
        )
        self.assertContains(response, "尚不能提交")
        self.assertContains(response, "缺少以下材料")
        application.refresh_from_db()
        assert application.status == Status.DRAFT
        assert application.declaration_accepted  # saved although submission was refused

    def test_the_declaration_must_be_accepted_to_submit(self) -> None:
        application = make_submittable(self.alice, declaration_accepted=False)
        response = self.client.post(step_url(application, "confirm"), {"signer_name": "张三", "go": "submit"})
        self.assertContains(response, "请阅读并勾选确认申报声明", status_code=422)

    def test_a_complete_draft_is_submitted_from_the_confirm_step(self) -> None:
        application = make_submittable(self.alice)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(
                step_url(application, "confirm"),
                {"declaration_accepted": "on", "signer_name": "张三", "go": "submit"},
                follow=True,
            )
        application.refresh_from_db()
        assert application.status == Status.SUBMITTED
        self.assertContains(response, str(application.reference))
        self.assertContains(response, "提交申报")  # on the timeline
        assert len(mail.outbox) == 1

    def test_a_submitted_application_is_not_editable_through_the_steps(self) -> None:
        application = make_submittable(self.alice)
        actions.submit_application(application, actor=self.alice)
        response = self.client.post(step_url(application, "work"), {"work_title": "改名", "go": "save"})
        self.assertRedirects(response, reverse("applications:detail", kwargs={"pk": application.pk}))
        application.refresh_from_db()
        assert application.work_title == "龙城夜雨"


@time_machine.travel(NOW, tick=False)
class MaterialViewTests(BaseTestCase):
    def setUp(self) -> None:
        self.login(self.alice)
        self.application = actions.create_draft(actor=self.alice)
        self.upload_url = reverse("applications:material_upload", kwargs={"pk": self.application.pk})

    def post_file(self, kind: str, name: str, content: bytes) -> Any:
        return self.client.post(self.upload_url, {"kind": kind, "file": upload(name, content)})

    def test_several_files_are_uploaded_at_once(self) -> None:
        response = self.client.post(
            self.upload_url,
            {
                "kind": MaterialKind.LAUNCH_PROOF,
                "file": [upload("a.pdf", pdf_bytes()), upload("b.pdf", pdf_bytes())],
            },
        )
        self.assertRedirects(response, step_url(self.application, "materials"))
        assert self.application.materials.filter(kind=MaterialKind.LAUNCH_PROOF).count() == 2

    def test_a_renamed_executable_is_refused_with_a_clear_message(self) -> None:
        response = self.post_file(
            MaterialKind.BUSINESS_LICENSE, "营业执照.pdf", b"MZ\x90\x00\x03" + b"\x00" * 200
        )
        self.assertContains(
            response, "文件“营业执照.pdf”的内容不是允许的类型（PDF、OFD、JPEG、PNG），已拒收", status_code=422
        )
        assert not Material.objects.exists()

    def test_an_html_file_named_pdf_is_refused(self) -> None:
        response = self.post_file(
            MaterialKind.BUSINESS_LICENSE, "license.pdf", b"<html><script>alert(1)</script></html>"
        )
        self.assertContains(response, "内容不是允许的类型", status_code=422)
        assert not Material.objects.exists()

    def test_an_empty_file_is_refused(self) -> None:
        response = self.post_file(MaterialKind.BUSINESS_LICENSE, "empty.pdf", b"")
        self.assertContains(response, "空文件", status_code=422)

    @override_settings(UPLOAD_MAX_BYTES=2048)
    def test_an_oversized_file_is_refused(self) -> None:
        response = self.post_file(MaterialKind.BUSINESS_LICENSE, "big.pdf", b"%PDF-1.4\n" + b"0" * 4096)
        self.assertContains(response, "超过 0 MB 的大小限制", status_code=422)
        assert not Material.objects.exists()

    def test_a_bad_consumption_row_is_shown_in_a_table_by_row_number(self) -> None:
        rows = [
            ("JOB-1", "2026-03-01 08:00", "2026-03-01 08:30", "H200", 8, 30, "5000", "20000.00", "render"),
            ("JOB-2", "2026-03-01 09:00", "2026-03-01 09:30", "H200", 8, 30, "7500", "abc", "render"),
        ]
        response = self.post_file(MaterialKind.CONSUMPTION_DETAIL, "明细.csv", consumption_csv(rows))
        page = response.content.decode()
        assert response.status_code == 422
        assert 'id="consumption-errors"' in page
        assert '<td class="num">3</td><td>金额（元）</td><td>金额应为大于 0 的金额</td>' in page
        assert not Material.objects.exists()

    def test_the_templates_download_as_csv_and_xlsx(self) -> None:
        csv_response = self.client.get(reverse("applications:consumption_template", kwargs={"fmt": "csv"}))
        assert csv_response["Content-Disposition"].startswith("attachment")
        assert "记录编号" in csv_response.content.decode("utf-8-sig")
        xlsx = self.client.get(reverse("applications:consumption_template", kwargs={"fmt": "xlsx"}))
        assert xlsx.content.startswith(b"PK")

    def test_a_material_is_served_as_attachment_with_nosniff_and_audited(self) -> None:
        material = actions.add_material(
            self.application,
            MaterialKind.BUSINESS_LICENSE,
            checked("执照\r\n.pdf", pdf_bytes()),
            actor=self.alice,
        )
        response = self.client.get(
            reverse(
                "applications:material_download",
                kwargs={"pk": self.application.pk, "material_pk": material.pk},
            )
        )
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith("attachment")
        assert "\r" not in response["Content-Disposition"]
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Type"] == "application/pdf"
        assert b"".join(response.streaming_content).startswith(b"%PDF")  # type: ignore[attr-defined]
        inline = self.client.get(
            reverse(
                "applications:material_view", kwargs={"pk": self.application.pk, "material_pk": material.pk}
            )
        )
        assert inline["Content-Disposition"].startswith("inline")
        assert inline["X-Content-Type-Options"] == "nosniff"
        assert inline["Content-Security-Policy"].startswith("default-src 'none'")  # no scripts
        assert AuditEvent.objects.filter(action="application.material_download").count() == 2

    def test_images_are_shown_inline_in_a_sandbox_and_tables_only_downloaded(self) -> None:
        image = actions.add_material(
            self.application, MaterialKind.LAUNCH_PROOF, checked("截图.png", png_bytes()), actor=self.alice
        )
        table = actions.add_material(
            self.application,
            MaterialKind.CONSUMPTION_DETAIL,
            checked("明细.csv", consumption_csv(), MaterialKind.CONSUMPTION_DETAIL),
            actor=self.alice,
        )
        view = "applications:material_view"
        shown = self.client.get(reverse(view, kwargs={"pk": self.application.pk, "material_pk": image.pk}))
        assert shown["Content-Type"] == "image/png"
        assert "sandbox" in shown["Content-Security-Policy"]
        assert (
            self.client.get(
                reverse(view, kwargs={"pk": self.application.pk, "material_pk": table.pk})
            ).status_code
            == 404
        )

    def test_the_media_url_does_not_serve_uploads(self) -> None:
        material = actions.add_material(
            self.application,
            MaterialKind.BUSINESS_LICENSE,
            checked("a.pdf", pdf_bytes()),
            actor=self.alice,
        )
        stored = str(material.file.name)
        assert self.client.get("/media/" + stored).status_code == 404
        assert self.client.get("/" + stored).status_code == 404

    def test_a_draft_file_can_be_removed(self) -> None:
        add_required_materials(self.application, self.alice)
        material = self.application.materials.get(kind=MaterialKind.USAGE_LOG)
        self.client.post(
            reverse(
                "applications:material_remove", kwargs={"pk": self.application.pk, "material_pk": material.pk}
            )
        )
        material.refresh_from_db()
        assert material.deleted
        page = self.client.get(step_url(self.application, "materials"))
        self.assertContains(page, "缺少以下材料：算力平台使用日志")


@time_machine.travel(NOW, tick=False)
class PageAccessTests(BaseTestCase):
    def setUp(self) -> None:
        # Files go to a per-test MEDIA_ROOT, so they are made here rather than in setUpTestData.
        self.application = make_submittable(self.alice)
        self.material = self.application.materials.first()

    def urls(self) -> list[str]:
        pk = self.application.pk
        assert self.material is not None
        return [
            reverse("applications:detail", kwargs={"pk": pk}),
            reverse("applications:pdf", kwargs={"pk": pk}),
            reverse("applications:material_download", kwargs={"pk": pk, "material_pk": self.material.pk}),
            reverse("applications:material_view", kwargs={"pk": pk, "material_pk": self.material.pk}),
            reverse("applications:materials", kwargs={"pk": pk}),
            reverse("applications:estimate", kwargs={"pk": pk}),
            step_url(self.application, "work"),
            step_url(self.application, "materials"),
        ]

    def test_another_enterprises_user_gets_404_on_every_page_material_and_the_pdf(self) -> None:
        self.login(self.bob)
        for url in self.urls():
            assert self.client.get(url).status_code == 404, url
        for name in ("submit", "withdraw"):
            assert (
                self.client.post(
                    reverse(f"applications:{name}", kwargs={"pk": self.application.pk})
                ).status_code
                == 404
            )
        assert self.material is not None
        remove = reverse(
            "applications:material_remove",
            kwargs={"pk": self.application.pk, "material_pk": self.material.pk},
        )
        assert self.client.post(remove).status_code == 404
        assert not AuditEvent.objects.filter(action="application.material_download").exists()

    def test_an_outsider_gets_404_and_an_anonymous_user_is_sent_to_login(self) -> None:
        self.login(self.outsider)
        assert self.client.get(self.urls()[0]).status_code == 404
        self.client.logout()
        response = self.client.get(self.urls()[0])
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]

    def test_staff_may_read_but_not_edit(self) -> None:
        self.login(self.reviewer)
        assert self.client.get(self.urls()[0]).status_code == 200
        assert self.client.get(self.urls()[2]).status_code == 200
        assert self.client.get(step_url(self.application, "work")).status_code == 404

    def test_the_list_shows_only_the_enterprises_applications_in_few_queries(self) -> None:
        make_draft(self.bob, filing_number="B-1", work_title="星河之外")
        self.login(self.alice)
        with self.assertNumQueries(9):  # session, user, security policy, roles, enterprise, list, session save
            response = self.client.get(reverse("applications:list"))
        self.assertContains(response, "龙城夜雨")
        self.assertNotContains(response, "星河之外")

    def test_the_detail_page_shows_the_timeline_and_materials(self) -> None:
        self.login(self.alice)
        response = self.client.get(self.urls()[0])
        self.assertContains(response, "创建草稿")
        self.assertContains(response, "上传材料")
        self.assertContains(response, "营业执照复印件")


def test_deadline_constant_matches_the_calendar() -> None:
    from applications.tests.factories import LAUNCH
    from core.lib.workdays import WorkdayCalendar
    from policy.calendar import apply_deadline
    from policy.loader import params_at

    assert apply_deadline(LAUNCH, params_at(LAUNCH), calendar=WorkdayCalendar({})) == LAUNCH_DEADLINE
