from __future__ import annotations

import io
import re
from datetime import timedelta

import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.actions import issue_mfa_enrolment, usable_mfa_enrolment
from accounts.models import MfaEnrolment, User
from accounts.roles import Role
from ledger.models import AuditEvent
from testing.fixtures import PASSWORD, BaseTestCase, make_user


@override_settings(STAFF_MFA_REQUIRED=True)
class StaffMfaTests(BaseTestCase):
    secadmin: User

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.secadmin = make_user("secadmin", Role.SECADMIN, display_name="安全管理员")

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

    def test_it_shows_no_secret_at_first_login_and_sends_staff_to_the_security_administrator(self) -> None:
        self.password_login("reviewer")
        page = self.client.get(reverse("accounts:otp"))
        self.assertContains(page, "安全管理员")
        self.assertNotContains(page, "二维码")
        self.assertNotContains(page, "密钥")
        self.assertFalse(TOTPDevice.objects.filter(user=self.reviewer).exists())
        self.assertEqual(self.client.post(reverse("accounts:otp"), {"token": "123456"}).status_code, 200)
        self.assertEqual(self.client.get(reverse("enterprises:pending")).status_code, 302)

    def enrol_with(self, token: str, next_url: str = "") -> TOTPDevice:
        path = reverse("accounts:otp_enrol", args=[token])
        page = self.client.get(path)
        self.assertContains(page, "扫描下方二维码")
        device = TOTPDevice.objects.get(user=self.reviewer, confirmed=False)
        response = self.client.post(path, {"token": self.code(device)})
        self.assertEqual(response.status_code, 302)
        device.refresh_from_db()
        return device

    def verified_login(self, user: User) -> None:
        device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
        self.password_login(user.username)
        self.assertEqual(
            self.client.post(reverse("accounts:otp"), {"token": self.code(device)}).status_code, 302
        )

    def test_it_enrols_through_a_link_the_security_administrator_issued(self) -> None:
        self.verified_login(self.secadmin)
        issued = self.client.post(reverse("accounts:mfa_enrolment", args=[self.reviewer.pk]))
        link = re.search(r'id="enrolment-link">([^<]+)<', issued.content.decode())
        assert link is not None
        token = link.group(1).rstrip("/").rsplit("/", 1)[1]
        self.assertTrue(
            AuditEvent.objects.filter(action="auth.mfa_enrolment_issued", actor=self.secadmin).exists()
        )
        self.client.post(reverse("accounts:logout"))
        self.password_login("reviewer")
        device = self.enrol_with(token)
        self.assertTrue(device.confirmed)
        self.assertEqual(self.client.get(reverse("enterprises:pending")).status_code, 200)
        self.assertTrue(AuditEvent.objects.filter(action="auth.mfa_enrolled", actor=self.reviewer).exists())

    def test_it_uses_an_enrolment_link_once(self) -> None:
        token = issue_mfa_enrolment(self.reviewer, actor=self.secadmin)
        self.password_login("reviewer")
        self.enrol_with(token)
        self.client.post(reverse("accounts:logout"))
        self.password_login("reviewer")
        again = self.client.get(reverse("accounts:otp_enrol", args=[token]))
        self.assertContains(again, "绑定链接无效", status_code=400)
        self.assertEqual(TOTPDevice.objects.filter(user=self.reviewer).count(), 1)

    def test_it_refuses_an_expired_or_revoked_link_or_another_users_link(self) -> None:
        old = issue_mfa_enrolment(self.reviewer, actor=self.secadmin)
        fresh = issue_mfa_enrolment(self.reviewer, actor=self.secadmin)
        self.password_login("reviewer")
        path = reverse("accounts:otp_enrol", args=[old])
        self.assertEqual(self.client.get(path).status_code, 400)  # revoked by the newer link
        with time_machine.travel(timezone.now() + timedelta(hours=25)):
            self.password_login("reviewer")
            self.assertEqual(self.client.get(reverse("accounts:otp_enrol", args=[fresh])).status_code, 400)
        self.client.post(reverse("accounts:logout"))
        self.password_login("head")
        self.assertEqual(self.client.get(reverse("accounts:otp_enrol", args=[fresh])).status_code, 400)
        self.assertFalse(TOTPDevice.objects.filter(confirmed=True).exists())

    def test_it_lets_only_a_security_administrator_issue_links_and_not_for_themselves(self) -> None:
        with self.assertRaises(ValidationError):
            issue_mfa_enrolment(self.reviewer, actor=self.head)
        with self.assertRaises(ValidationError):
            issue_mfa_enrolment(self.secadmin, actor=self.secadmin)
        with self.assertRaises(ValidationError):
            issue_mfa_enrolment(self.alice, actor=self.secadmin)
        self.verified_login(self.head)
        self.assertEqual(
            self.client.post(reverse("accounts:mfa_enrolment", args=[self.reviewer.pk])).status_code, 403
        )

    def test_the_command_prints_a_link_for_the_first_security_administrator(self) -> None:
        out = io.StringIO()
        call_command("mfa_enrolment", "secadmin", stdout=out)
        token = out.getvalue().strip().rstrip("/").rsplit("/", 1)[1]
        enrolment = MfaEnrolment.objects.get(user=self.secadmin)
        self.assertIsNone(enrolment.issued_by)
        self.assertIsNotNone(usable_mfa_enrolment(token, self.secadmin))

    def test_the_demo_prints_an_enrolment_link_for_each_staff_persona_without_one(self) -> None:
        from demo.management.commands.demo import Command

        TOTPDevice.objects.create(user=self.head, name="phone", confirmed=True)
        command = Command(stdout=io.StringIO())
        command.print_mfa_enrolments()
        printed = command.stdout.getvalue()
        self.assertIn("reviewer", printed)
        self.assertNotIn("head ", printed)
        line = next(x for x in printed.splitlines() if x.strip().startswith("reviewer "))
        token = line.rstrip("/").rsplit("/", 1)[1]
        self.assertIsNotNone(usable_mfa_enrolment(token, self.reviewer))

    def test_it_enrols_before_the_initial_password_is_changed_without_looping(self) -> None:
        User.objects.filter(pk=self.reviewer.pk).update(
            password_changed_at=timezone.now() - timedelta(days=400)
        )
        token = issue_mfa_enrolment(self.reviewer, actor=self.secadmin)
        self.password_login("reviewer")
        self.assertEqual(self.client.get(reverse("accounts:otp")).status_code, 200)
        self.enrol_with(token)
        response = self.client.get(reverse("enterprises:pending"))
        self.assertRedirects(response, reverse("accounts:password_change"), fetch_redirect_response=False)
        self.assertEqual(self.client.get(reverse("accounts:password_change")).status_code, 200)

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
