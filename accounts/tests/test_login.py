from __future__ import annotations

from datetime import timedelta
from typing import Any

import time_machine
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.actions import set_active
from accounts.roles import Role
from ledger.models import AuditEvent
from testing.fixtures import PASSWORD, BaseTestCase, make_user


class LoginTests(BaseTestCase):
    def post_login(self, username: str, password: str):  # type: ignore[no-untyped-def]
        return self.client.post(reverse("accounts:login"), {"username": username, "password": password})

    def test_login_page_is_chinese(self) -> None:
        response = self.client.get(reverse("accounts:login"))
        self.assertContains(response, "登录")
        self.assertContains(response, "用户名")

    def test_successful_login_is_audited_and_rotates_session_key(self) -> None:
        self.client.get(reverse("accounts:login"))
        before = self.client.session.session_key
        response = self.post_login("alice", PASSWORD)
        self.assertEqual(response.status_code, 302)
        self.assertNotEqual(self.client.session.session_key, before)
        event = AuditEvent.objects.get(action="auth.login")
        self.assertEqual(event.actor, self.alice)
        self.assertEqual(event.ip, "127.0.0.1")

    def test_failed_login_is_audited_with_the_username(self) -> None:
        response = self.post_login("alice", "wrong-password")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "请输入一个正确的")
        event = AuditEvent.objects.get(action="auth.login_failed")
        self.assertEqual(event.actor_repr, "alice")
        self.assertEqual(event.result, AuditEvent.Result.FAILURE)

    def test_sixth_login_after_five_failures_is_refused_even_with_right_password(self) -> None:
        for _ in range(5):
            self.post_login("alice", "wrong-password")
        response = self.post_login("alice", PASSWORD)
        self.assertEqual(response.status_code, 429)
        self.assertContains(response, "账号已锁定", status_code=429)
        self.assertNotIn("_auth_user_id", self.client.session)
        self.assertTrue(AuditEvent.objects.filter(action="auth.locked_out", actor_repr="alice").exists())

    def test_lockout_ends_after_the_cool_off_period(self) -> None:
        for _ in range(5):
            self.post_login("alice", "wrong-password")
        with time_machine.travel(timezone.now() + timedelta(minutes=31)):
            response = self.post_login("alice", PASSWORD)
        self.assertEqual(response.status_code, 302)

    def test_logout_is_audited(self) -> None:
        self.login(self.alice)
        self.client.post(reverse("accounts:logout"))
        self.assertTrue(AuditEvent.objects.filter(action="auth.logout", actor=self.alice).exists())

    def test_idle_session_expires_and_is_deleted_server_side(self) -> None:
        self.post_login("alice", PASSWORD)
        self.assertEqual(
            self.client.get(reverse("workbench")).status_code, 302
        )  # redirected to own enterprise
        key = self.client.session.session_key
        with time_machine.travel(timezone.now() + timedelta(minutes=31)):
            response = self.client.get(reverse("enterprises:mine"))
        self.assertEqual(response.status_code, 302)
        self.assertIn(reverse("accounts:login"), response["Location"])
        from django.contrib.sessions.models import Session

        self.assertFalse(
            Session.objects.filter(session_key=key, session_data__contains="_auth_user_id").exists()
        )
        self.assertTrue(AuditEvent.objects.filter(action="auth.session_timeout").exists())

    def test_active_session_within_idle_limit_survives(self) -> None:
        self.post_login("alice", PASSWORD)
        with time_machine.travel(timezone.now() + timedelta(minutes=20)):
            response = self.client.get(reverse("enterprises:detail", args=[self.enterprise.pk]))
        self.assertEqual(response.status_code, 200)

    def test_a_background_poll_neither_extends_nor_rewrites_the_session(self) -> None:
        self.post_login("alice", PASSWORD)
        key = self.client.session.session_key
        from django.contrib.sessions.models import Session

        stored = Session.objects.get(session_key=key).session_data
        with time_machine.travel(timezone.now() + timedelta(minutes=20)):
            badge = self.client.get(reverse("review:inbox_unread"), HTTP_X_BACKGROUND_POLL="1")
        self.assertEqual(badge.status_code, 200)
        self.assertNotIn("Set-Cookie", str(badge.cookies))
        self.assertEqual(Session.objects.get(session_key=key).session_data, stored)
        # Twenty minutes of polling were not activity: at 31 minutes the session has ended.
        with time_machine.travel(timezone.now() + timedelta(minutes=31)):
            response = self.client.get(reverse("enterprises:mine"))
        self.assertEqual(response.status_code, 302)
        self.assertIn(reverse("accounts:login"), response["Location"])

    def test_expired_password_forces_a_change(self) -> None:
        user = make_user("old", Role.REVIEWER)
        type(user).objects.filter(pk=user.pk).update(password_changed_at=timezone.now() - timedelta(days=91))
        self.post_login("old", PASSWORD)
        response = self.client.get(reverse("workbench"))
        self.assertRedirects(response, reverse("accounts:password_change"), fetch_redirect_response=False)

    def test_disabling_a_user_ends_their_sessions(self) -> None:
        self.post_login("alice", PASSWORD)
        set_active(self.alice, False, actor=self.reviewer)
        response = self.client.get(reverse("enterprises:mine"))
        self.assertEqual(response.status_code, 302)
        self.assertIn(reverse("accounts:login"), response["Location"])

    def test_a_64_character_password_works_and_a_truncated_one_does_not(self) -> None:
        long_password = "Aa1!" + "x" * 60
        make_user("longpw", Role.REVIEWER).set_password(long_password)
        user = type(self.alice).objects.get(username="longpw")
        user.set_password(long_password)
        user.save()
        self.assertEqual(self.post_login("longpw", long_password[:63]).status_code, 200)
        self.assertEqual(self.post_login("longpw", long_password).status_code, 302)


class PasswordPolicyTests(BaseTestCase):
    def test_three_character_classes_are_accepted(self) -> None:
        validate_password("Aa1!aaaa")

    def test_common_password_is_rejected(self) -> None:
        with self.assertRaises(ValidationError):
            validate_password("password123")

    def test_too_simple_password_names_the_rule_in_chinese(self) -> None:
        with self.assertRaises(ValidationError) as ctx:
            validate_password("abcdefghij")
        self.assertIn("至少 3 类", " ".join(ctx.exception.messages))

    @override_settings(PASSWORD_MIN_CLASSES=4)
    def test_class_count_is_configurable(self) -> None:
        from accounts.passwords import CharacterClassValidator

        with self.assertRaises(ValidationError):
            CharacterClassValidator().validate("Aa1aaaaa")

    def test_64_character_password_is_allowed(self) -> None:
        validate_password("Aa1!" + "q" * 60)


class LockoutScopeTests(BaseTestCase):
    """Lockout by user name and by user name plus address, never by address alone; the client
    address comes from proxy headers only behind TRUSTED_PROXY_COUNT proxies."""

    def post_login(self, username: str, password: str, **meta: Any):  # type: ignore[no-untyped-def]
        return self.client.post(
            reverse("accounts:login"), {"username": username, "password": password}, **meta
        )

    def test_it_does_not_lock_another_user_from_the_same_address(self) -> None:
        for _ in range(5):
            self.post_login("alice", "wrong-password")
        self.assertEqual(self.post_login("alice", PASSWORD).status_code, 429)
        response = self.post_login("bob", PASSWORD)
        self.assertEqual(response.status_code, 302)
        self.assertEqual(self.client.session["_auth_user_id"], str(self.bob.pk))

    def test_it_locks_the_user_from_another_address_too(self) -> None:
        for _ in range(5):
            self.post_login("alice", "wrong-password", REMOTE_ADDR="192.0.2.1")
        self.assertEqual(self.post_login("alice", PASSWORD, REMOTE_ADDR="192.0.2.2").status_code, 429)

    def test_it_does_not_record_a_forged_x_real_ip_from_an_untrusted_peer(self) -> None:
        self.post_login(
            "alice", "wrong-password", HTTP_X_REAL_IP="10.0.0.10", HTTP_X_FORWARDED_FOR="10.0.0.10"
        )
        event = AuditEvent.objects.get(action="auth.login_failed")
        self.assertEqual(event.ip, "127.0.0.1")

    @override_settings(TRUSTED_PROXY_COUNT=1)
    def test_it_records_the_address_the_trusted_proxy_saw(self) -> None:
        self.post_login(
            "alice",
            "wrong-password",
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR="10.0.0.10, 203.0.113.7",
        )
        self.assertEqual(AuditEvent.objects.get(action="auth.login_failed").ip, "203.0.113.7")
        self.post_login("bob", "wrong-password", REMOTE_ADDR="10.0.0.2", HTTP_X_REAL_IP="203.0.113.8")
        self.assertEqual(AuditEvent.objects.get(action="auth.login_failed", actor_repr="bob").ip, "10.0.0.2")

    @override_settings(TRUSTED_PROXY_COUNT=1)
    def test_it_locks_by_the_address_the_trusted_proxy_saw(self) -> None:
        from axes.models import AccessAttempt

        for _ in range(5):
            self.post_login(
                "alice", "wrong-password", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.7"
            )
        self.assertEqual(set(AccessAttempt.objects.values_list("ip_address", flat=True)), {"203.0.113.7"})
        locked = AuditEvent.objects.get(action="auth.locked_out")
        self.assertEqual(locked.ip, "203.0.113.7")
        response = self.post_login(
            "bob", PASSWORD, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.7"
        )
        self.assertEqual(response.status_code, 302)
