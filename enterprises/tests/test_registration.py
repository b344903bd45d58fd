from __future__ import annotations

from django.urls import reverse

from enterprises.models import Enterprise
from ledger.models import AuditEvent
from yingdu.test import USCC_A, USCC_C, BaseTestCase, pdf_bytes, png_bytes, upload


def form_data(**overrides: str) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "北京初映数字影像有限公司",
        "uscc": USCC_C,
        "registered_address": "北京市怀柔区雁栖镇1号",
        "operating_address": "",
        "legal_rep_name": "赵六",
        "legal_rep_phone": "13800138000",
        "handler_name": "孙七",
        "handler_phone": "010-69612345",
        "handler_email": "sunqi@example.cn",
        "username": "sunqi",
        "password1": "Chuying#2026",
        "password2": "Chuying#2026",
    }
    data.update(overrides)
    return data


class RegistrationTests(BaseTestCase):
    def post(self, **overrides: str):  # type: ignore[no-untyped-def]
        data = form_data(**overrides)
        data["license"] = upload("license.pdf", pdf_bytes())
        return self.client.post(reverse("enterprises:register"), data)

    def test_registration_creates_a_pending_enterprise_with_its_first_user(self) -> None:
        response = self.post()
        self.assertRedirects(response, reverse("enterprises:mine"), fetch_redirect_response=False)
        enterprise = Enterprise.objects.get(uscc=USCC_C)
        self.assertEqual(enterprise.status, Enterprise.Status.PENDING)
        self.assertFalse(enterprise.can_apply)
        self.assertEqual(enterprise.operating_address, "北京市怀柔区雁栖镇1号")
        self.assertEqual(enterprise.legal_rep_phone, "+8613800138000")
        self.assertEqual(enterprise.handler_phone, "+861069612345")
        self.assertEqual(enterprise.users.get().username, "sunqi")
        self.assertEqual(len(enterprise.license_sha256), 64)
        self.assertRegex(str(enterprise.license_file.name), r"^licenses/\d{4}/\d{2}/[0-9a-f]{32}\.pdf$")
        self.assertTrue(
            AuditEvent.objects.filter(action="enterprise.register", object_id=str(enterprise.pk)).exists()
        )

    def test_wrong_check_digit_shows_chinese_error_and_keeps_other_fields(self) -> None:
        bad = USCC_C[:-1] + ("0" if USCC_C[-1] != "0" else "1")
        response = self.post(uscc=bad)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "统一社会信用代码校验位错误")
        self.assertContains(response, 'value="北京初映数字影像有限公司"')
        self.assertContains(response, 'value="sunqi@example.cn"')
        self.assertContains(response, f'value="{bad}"')
        self.assertFalse(Enterprise.objects.filter(name="北京初映数字影像有限公司").exists())

    def test_bad_phone_shows_error_on_that_field(self) -> None:
        response = self.post(legal_rep_phone="12345678901")
        self.assertContains(response, "请填写有效的中国大陆手机号或固定电话")
        self.assertContains(response, 'id="error-legal_rep_phone"')
        self.assertContains(response, 'value="赵六"')

    def test_bad_email_shows_error_on_that_field(self) -> None:
        response = self.post(handler_email="not-an-email")
        self.assertContains(response, "电子邮箱格式不正确")
        self.assertContains(response, 'id="error-handler_email"')
        self.assertContains(response, 'value="孙七"')

    def test_duplicate_uscc_is_refused_with_a_clear_message(self) -> None:
        response = self.post(uscc=USCC_A)
        self.assertContains(response, "该统一社会信用代码已注册")
        self.assertEqual(Enterprise.objects.filter(uscc=USCC_A).count(), 1)

    def test_licence_that_is_html_named_pdf_is_refused(self) -> None:
        data = form_data()
        data["license"] = upload("license.pdf", b"<html><script>alert(1)</script></html>")
        response = self.client.post(reverse("enterprises:register"), data)
        self.assertContains(response, "不是允许的类型")
        self.assertFalse(Enterprise.objects.filter(uscc=USCC_C).exists())

    def test_image_licence_is_accepted(self) -> None:
        data = form_data()
        data["license"] = upload("执照.png", png_bytes())
        self.client.post(reverse("enterprises:register"), data)
        self.assertTrue(Enterprise.objects.filter(uscc=USCC_C, license_mime="image/png").exists())


class EnterpriseAccessTests(BaseTestCase):
    def test_enterprise_user_cannot_see_another_enterprise(self) -> None:
        self.login(self.bob)
        self.assertEqual(
            self.client.get(reverse("enterprises:detail", args=[self.enterprise.pk])).status_code, 404
        )
        self.assertEqual(
            self.client.get(reverse("enterprises:license", args=[self.enterprise.pk])).status_code, 404
        )
        self.assertEqual(
            self.client.get(reverse("enterprises:add_member", args=[self.enterprise.pk])).status_code, 404
        )

    def test_enterprise_user_sees_own_enterprise(self) -> None:
        self.login(self.alice)
        response = self.client.get(reverse("enterprises:detail", args=[self.enterprise.pk]))
        self.assertContains(response, self.enterprise.name)

    def test_anonymous_user_is_sent_to_login(self) -> None:
        response = self.client.get(reverse("enterprises:detail", args=[self.enterprise.pk]))
        self.assertEqual(response.status_code, 302)

    def test_member_can_add_a_colleague_to_the_same_enterprise(self) -> None:
        self.login(self.alice)
        response = self.client.post(
            reverse("enterprises:add_member", args=[self.enterprise.pk]),
            {
                "username": "carol",
                "display_name": "卡罗",
                "phone": "13700137000",
                "email": "carol@example.cn",
                "password": "Carol#2026x",
            },
        )
        self.assertEqual(response.status_code, 302)
        self.assertEqual(self.enterprise.users.filter(username="carol").count(), 1)


class VerificationTests(BaseTestCase):
    def test_reviewer_verifies_a_pending_enterprise(self) -> None:
        self.enterprise.status = Enterprise.Status.PENDING
        self.enterprise.save()
        self.login(self.reviewer)
        self.assertContains(self.client.get(reverse("enterprises:pending")), self.enterprise.name)
        response = self.client.post(
            reverse("enterprises:verify", args=[self.enterprise.pk]), {"decision": "verified", "note": ""}
        )
        self.assertEqual(response.status_code, 302)
        self.enterprise.refresh_from_db()
        self.assertTrue(self.enterprise.can_apply)
        self.assertEqual(self.enterprise.verified_by, self.reviewer)
        self.assertTrue(AuditEvent.objects.filter(action="enterprise.verify").exists())

    def test_rejection_needs_a_reason(self) -> None:
        self.login(self.reviewer)
        response = self.client.post(
            reverse("enterprises:verify", args=[self.enterprise.pk]), {"decision": "rejected", "note": ""}
        )
        self.assertContains(response, "不通过时请填写原因")

    def test_applicant_cannot_verify(self) -> None:
        self.login(self.alice)
        response = self.client.post(
            reverse("enterprises:verify", args=[self.enterprise.pk]), {"decision": "verified"}
        )
        self.assertEqual(response.status_code, 403)
