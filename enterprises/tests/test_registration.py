from __future__ import annotations

import re

from django.core import mail
from django.urls import reverse

from accounts.models import User
from enterprises.models import Enterprise
from ledger.models import AuditEvent
from testing.fixtures import USCC_A, USCC_B, USCC_C, BaseTestCase, pdf_bytes, png_bytes, upload


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
        with self.captureOnCommitCallbacks(execute=True):
            response = self.post()
        self.assertContains(response, "注册信息已提交")
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

    def test_it_answers_a_taken_uscc_or_user_name_as_it_answers_a_new_registration(self) -> None:
        with self.captureOnCommitCallbacks(execute=True):
            fresh = self.post()
        answers = [fresh]
        for overrides in ({"uscc": USCC_A, "username": "newname"}, {"username": "ALICE", "uscc": USCC_B}):
            with self.captureOnCommitCallbacks(execute=True):
                answers.append(self.post(**overrides))
        # CSRF tokens are masked afresh on every response; everything else must be identical.
        shown = [re.sub(r'"X-CSRFToken": "[^"]+"', "", r.content.decode()) for r in answers]
        self.assertEqual({r.status_code for r in answers}, {200})
        self.assertEqual(len(set(shown)), 1)
        self.assertEqual(Enterprise.objects.filter(uscc=USCC_A).count(), 1)
        self.assertEqual(User.objects.filter(username__iexact="alice").count(), 1)
        self.assertFalse(User.objects.filter(username="newname").exists())
        self.assertEqual(
            AuditEvent.objects.filter(
                action="enterprise.register_refused", result=AuditEvent.Result.FAILURE
            ).count(),
            2,
        )

    def test_it_tells_the_existing_owner_by_e_mail(self) -> None:
        with self.captureOnCommitCallbacks(execute=True):
            self.post(uscc=USCC_A, username="newname", handler_email="impostor@example.cn")
        to_owner = [m for m in mail.outbox if "alice@example.cn" in m.to]
        self.assertEqual(len(to_owner), 1)
        self.assertIn("有人尝试", to_owner[0].subject)
        self.assertIn(self.enterprise.handler_email, to_owner[0].to)
        to_registrant = [m for m in mail.outbox if m.to == ["impostor@example.cn"]]
        self.assertEqual(len(to_registrant), 1)
        self.assertIn("未能完成", to_registrant[0].subject)
        mail.outbox.clear()
        with self.captureOnCommitCallbacks(execute=True):
            self.post(username="bob", handler_email="impostor@example.cn")
        self.assertTrue(any("bob@example.cn" in m.to for m in mail.outbox))

    def test_it_activates_the_user_through_the_one_time_link_of_the_e_mail(self) -> None:
        with self.captureOnCommitCallbacks(execute=True):
            self.post()
        user = User.objects.get(username="sunqi")
        self.assertFalse(user.is_active)
        refused = self.client.post(
            reverse("accounts:login"), {"username": "sunqi", "password": "Chuying#2026"}
        )
        self.assertEqual(refused.status_code, 200)
        (message,) = [m for m in mail.outbox if m.to == ["sunqi@example.cn"]]
        link = re.search(r"http\S+/register/confirm/\S+/", str(message.body))
        assert link is not None
        path = link.group(0).split("://", 1)[1].split("/", 1)[1]
        self.assertContains(self.client.get("/" + path), "完成注册")
        response = self.client.post("/" + path)
        self.assertRedirects(response, reverse("enterprises:mine"), fetch_redirect_response=False)
        user.refresh_from_db()
        self.assertTrue(user.is_active)
        self.assertEqual(self.client.session["_auth_user_id"], str(user.pk))
        self.client.logout()
        again = self.client.post("/" + path)
        self.assertContains(again, "无效", status_code=400)

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
                "password": "Huairou#2026x",
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
        self.enterprise.status = Enterprise.Status.PENDING
        self.enterprise.save()
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
