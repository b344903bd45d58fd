from __future__ import annotations

from django.test import override_settings
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from ledger.models import AuditEvent
from yingdu.test import PASSWORD, BaseTestCase


@override_settings(STAFF_MFA_REQUIRED=True)
class StaffMfaTests(BaseTestCase):
    def password_login(self, username: str) -> None:
        response = self.client.post(reverse("accounts:login"), {"username": username, "password": PASSWORD})
        self.assertEqual(response.status_code, 302)

    def code(self, device: TOTPDevice) -> str:
        return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"

    def test_staff_without_otp_reaches_no_protected_view(self) -> None:
        self.password_login("reviewer")
        response = self.client.get(reverse("enterprises:pending"))
        self.assertEqual(response.status_code, 302)
        self.assertTrue(response["Location"].startswith(reverse("accounts:otp")))

    def test_first_login_enrols_an_authenticator_then_opens_the_workbench(self) -> None:
        self.password_login("reviewer")
        page = self.client.get(reverse("accounts:otp"))
        self.assertContains(page, "扫描下方二维码")
        device = TOTPDevice.objects.get(user=self.reviewer)
        response = self.client.post(
            reverse("accounts:otp"), {"token": self.code(device), "next": "/enterprises/pending/"}
        )
        self.assertRedirects(response, "/enterprises/pending/", fetch_redirect_response=False)
        self.assertEqual(self.client.get(reverse("enterprises:pending")).status_code, 200)
        device.refresh_from_db()
        self.assertTrue(device.confirmed)
        self.assertTrue(AuditEvent.objects.filter(action="auth.mfa_verified", actor=self.reviewer).exists())

    def test_a_used_code_cannot_be_replayed(self) -> None:
        device = TOTPDevice.objects.create(user=self.reviewer, name="a", confirmed=True)
        self.password_login("reviewer")
        token = self.code(device)
        self.assertEqual(self.client.post(reverse("accounts:otp"), {"token": token}).status_code, 302)
        self.client.post(reverse("accounts:logout"))
        self.password_login("reviewer")
        response = self.client.post(reverse("accounts:otp"), {"token": token})
        self.assertContains(response, "动态口令错误或已使用过")
        self.assertTrue(AuditEvent.objects.filter(action="auth.mfa_failed").exists())

    def test_wrong_code_is_refused(self) -> None:
        TOTPDevice.objects.create(user=self.reviewer, name="a", confirmed=True)
        self.password_login("reviewer")
        response = self.client.post(reverse("accounts:otp"), {"token": "000000"})
        self.assertContains(response, "动态口令错误")

    def test_applicants_do_not_need_otp(self) -> None:
        self.password_login("alice")
        response = self.client.get(reverse("enterprises:detail", args=[self.enterprise.pk]))
        self.assertEqual(response.status_code, 200)
