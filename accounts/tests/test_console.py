"""The administration console: each of the three administrators does their own duty and only theirs."""

from __future__ import annotations

import io
from datetime import timedelta

import time_machine
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from accounts.actions import update_security_policy
from accounts.models import User
from accounts.roles import Role
from ledger.models import AuditEvent
from testing.fixtures import PASSWORD, BaseTestCase, make_user

NEW_PASSWORD = "Yd-New-Passw0rd!"  # noqa: S105 - test fixture


class ConsoleTestCase(BaseTestCase):
    sysadmin: User
    secadmin: User
    auditadmin: User

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.sysadmin = make_user("sys", Role.SYSADMIN, display_name="系统管理员甲")
        cls.secadmin = make_user("sec", Role.SECADMIN, display_name="安全管理员乙")
        cls.auditadmin = make_user("aud", Role.AUDITADMIN, display_name="审计管理员丙")

    def create_account(self, username: str = "newreviewer") -> User:
        self.login(self.sysadmin)
        response = self.client.post(
            reverse("console:account_new"),
            {
                "username": username,
                "display_name": "新初审员",
                "email": "new@example.cn",
                "password1": NEW_PASSWORD,
                "password2": NEW_PASSWORD,
            },
        )
        self.assertEqual(response.status_code, 302)
        return User.objects.get(username=username)


class SysadminTests(ConsoleTestCase):
    def test_it_lets_the_sysadmin_create_an_account_with_no_role_that_must_change_its_password(self) -> None:
        user = self.create_account()
        self.assertEqual(user.role_codes(), [])
        self.assertTrue(user.check_password(NEW_PASSWORD))
        event = AuditEvent.objects.get(action="accounts.create")
        self.assertEqual(event.actor, self.sysadmin)
        self.assertEqual(event.object_id, str(user.pk))
        # First login goes to the change-password page.
        self.client.logout()
        self.client.force_login(user)
        response = self.client.get(reverse("workbench"))
        self.assertRedirects(response, reverse("accounts:password_change"), fetch_redirect_response=False)

    def test_it_names_the_field_when_the_user_name_is_taken_or_the_password_weak(self) -> None:
        self.login(self.sysadmin)
        response = self.client.post(
            reverse("console:account_new"),
            {"username": "alice", "display_name": "重名", "password1": "abc", "password2": "abc"},
        )
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "用户名“alice”已被使用")
        response = self.client.post(
            reverse("console:account_new"),
            {"username": "fresh", "display_name": "弱密码", "password1": "abcdefgh", "password2": "abcdefgh"},
        )
        self.assertContains(response, "密码须包含")
        self.assertFalse(User.objects.filter(username="fresh").exists())

    def test_it_lets_the_sysadmin_disable_and_enable_an_account_and_not_their_own(self) -> None:
        self.login(self.sysadmin)
        url = reverse("console:account_active", args=[self.reviewer.pk])
        self.client.post(url, {"active": "0"})
        self.reviewer.refresh_from_db()
        self.assertFalse(self.reviewer.is_active)
        self.client.post(url, {"active": "1"})
        self.reviewer.refresh_from_db()
        self.assertTrue(self.reviewer.is_active)
        self.assertEqual(AuditEvent.objects.filter(action="accounts.active_changed").count(), 2)
        response = self.client.post(
            reverse("console:account_active", args=[self.sysadmin.pk]), {"active": "0"}, follow=True
        )
        self.assertContains(response, "不能停用自己的账号")
        self.sysadmin.refresh_from_db()
        self.assertTrue(self.sysadmin.is_active)

    def test_it_lets_the_sysadmin_keep_the_system_settings_shown_on_the_portal(self) -> None:
        self.login(self.sysadmin)
        response = self.client.post(
            reverse("console:settings"),
            {
                "announcement": "2026年度申报已开放",
                "service_phone": "010-69600000",
                "service_email": "",
                "service_hours": "",
            },
        )
        self.assertEqual(response.status_code, 302)
        self.client.logout()
        home = self.client.get("/")
        self.assertContains(home, "2026年度申报已开放")
        self.assertContains(home, "010-69600000")
        event = AuditEvent.objects.get(action="system.settings")
        assert event.after is not None
        self.assertEqual(event.after["announcement"], "2026年度申报已开放")

    def test_it_does_not_show_an_applicants_phone_or_email_in_the_account_list(self) -> None:
        self.alice.phone = "+8613800138000"
        self.alice.save()
        self.login(self.sysadmin)
        response = self.client.get(reverse("console:accounts"))
        self.assertContains(response, "alice")
        self.assertNotContains(response, "13800138000")
        self.assertNotContains(response, "alice@example.cn")


class SecadminTests(ConsoleTestCase):
    def test_it_lets_the_secadmin_give_a_role_within_the_separation_rules(self) -> None:
        user = self.create_account()
        self.client.logout()
        self.login(self.secadmin)
        url = reverse("console:account_roles", args=[user.pk])
        self.client.post(url, {"roles": [Role.REVIEWER]})
        self.assertEqual(User.objects.get(pk=user.pk).role_codes(), [Role.REVIEWER])
        event = AuditEvent.objects.get(action="accounts.roles_changed")
        self.assertEqual(event.actor, self.secadmin)
        self.assertEqual(event.after, {"roles": ["reviewer"]})
        response = self.client.post(url, {"roles": [Role.REVIEWER, Role.SYSADMIN]}, follow=True)
        self.assertContains(response, "管理员角色不能与业务角色同时担任")
        self.assertEqual(User.objects.get(pk=user.pk).role_codes(), [Role.REVIEWER])

    def test_it_refuses_a_secadmin_changing_their_own_roles(self) -> None:
        self.login(self.secadmin)
        response = self.client.post(
            reverse("console:account_roles", args=[self.secadmin.pk]), {"roles": [Role.SECADMIN]}, follow=True
        )
        self.assertContains(response, "不能修改自己的角色")
        self.assertFalse(
            AuditEvent.objects.filter(action="accounts.roles_changed", result=AuditEvent.Result.SUCCESS).exists()
        )
        refused = AuditEvent.objects.get(action="accounts.roles_changed")
        self.assertEqual(refused.result, AuditEvent.Result.FAILURE)

    def test_it_stores_the_security_policy_and_the_code_enforces_it(self) -> None:
        self.login(self.secadmin)
        response = self.client.post(
            reverse("console:security"),
            {
                "password_min_length": "12",
                "password_min_classes": "4",
                "password_max_age_days": "30",
                "lockout_failure_limit": "3",
                "lockout_cooloff_minutes": "10",
                "session_idle_minutes": "5",
                "staff_mfa_required": "on",
            },
        )
        self.assertEqual(response.status_code, 302)
        event = AuditEvent.objects.get(action="accounts.security_policy")
        assert event.after is not None
        self.assertEqual(event.after["lockout_failure_limit"], 3)
        with self.assertRaises(ValidationError):
            validate_password("Short1!a")  # 8 characters, 4 classes: too short for 12
        with self.assertRaises(ValidationError):
            validate_password("longpassword12A")  # 3 classes: 4 needed
        validate_password("Long-passw0rd-ok")
        # Second factor now required for staff: the reviewer is sent to the OTP page.
        self.client.logout()
        self.client.force_login(self.reviewer)
        response = self.client.get(reverse("workbench"))
        self.assertIn(reverse("accounts:otp"), response["Location"])

    def test_it_locks_after_the_stored_number_of_failures_and_the_secadmin_unlocks(self) -> None:
        update_security_policy({"lockout_failure_limit": 3}, actor=self.secadmin)
        for _ in range(3):
            self.client.post(reverse("accounts:login"), {"username": "alice", "password": "wrong"})
        response = self.client.post(reverse("accounts:login"), {"username": "alice", "password": PASSWORD})
        self.assertEqual(response.status_code, 429)
        self.login(self.secadmin)
        page = self.client.get(reverse("console:lockouts"))
        self.assertContains(page, "alice")
        self.client.post(reverse("console:lockouts"), {"username": "alice"})
        self.assertTrue(AuditEvent.objects.filter(action="accounts.unlock", actor=self.secadmin).exists())
        self.client.logout()
        response = self.client.post(reverse("accounts:login"), {"username": "alice", "password": PASSWORD})
        self.assertEqual(response.status_code, 302)

    def test_it_ends_idle_sessions_after_the_stored_idle_time(self) -> None:
        update_security_policy({"session_idle_minutes": 5}, actor=self.secadmin)
        self.login(self.alice)
        self.client.get("/applications/")
        with time_machine.travel(timezone.now() + timedelta(minutes=6)):
            response = self.client.get("/applications/")
        self.assertIn(reverse("accounts:login"), response["Location"])

    @override_settings(PASSWORD_MIN_CLASSES=2)
    def test_it_falls_back_to_the_deployment_default_when_a_rule_is_left_empty(self) -> None:
        update_security_policy({"password_min_classes": 4}, actor=self.secadmin)
        with self.assertRaises(ValidationError):
            validate_password("abcdefgh12")
        update_security_policy({"password_min_classes": None}, actor=self.secadmin)
        validate_password("abcdefgh12")


class AuditadminTests(ConsoleTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.target = self.create_account("searchme")
        self.client.logout()
        self.login(self.secadmin)
        self.client.post(reverse("console:account_roles", args=[self.target.pk]), {"roles": [Role.REVIEWER]})
        self.client.logout()
        self.login(self.auditadmin)

    def test_it_finds_a_role_change_by_person_role_action_object_and_period(self) -> None:
        today = timezone.localdate().isoformat()
        query = {
            "person": "安全管理员乙",
            "role": Role.SECADMIN,
            "action": "accounts.roles_changed",
            "obj": "searchme",
            "date_from": today,
            "date_to": today,
        }
        response = self.client.get(reverse("console:audit"), query)
        self.assertContains(response, "分配角色")
        self.assertContains(response, "角色：无 → 初审人员")
        self.assertEqual(response.context["page"].paginator.count, 1)
        self.assertNotContains(response, "accounts.roles_changed</td>")
        # A period before the change finds nothing.
        response = self.client.get(
            reverse("console:audit"), {**query, "date_from": "2020-01-01", "date_to": "2020-01-02"}
        )
        self.assertEqual(response.context["page"].paginator.count, 0)
        self.assertContains(response, "没有符合条件的审计事件")

    def test_it_reviews_the_other_administrators_own_actions(self) -> None:
        response = self.client.get(reverse("console:audit"), {"admins_only": "on"})
        actions = {row["event"].action for row in response.context["rows"]}
        self.assertIn("accounts.create", actions)
        self.assertIn("accounts.roles_changed", actions)
        self.assertNotIn("auth.login", {a for a in actions if a.startswith("auth.login_failed")})
        actors = {row["event"].actor_id for row in response.context["rows"]}
        self.assertEqual(actors, {self.sysadmin.pk, self.secadmin.pk})

    def test_it_exports_the_search_as_xlsx_and_the_export_is_audited(self) -> None:
        response = self.client.get(reverse("console:audit_export"), {"action": "accounts.roles_changed"})
        self.assertEqual(response.status_code, 200)
        sheet = load_workbook(io.BytesIO(response.content)).active
        assert sheet is not None
        rows = list(sheet.iter_rows(values_only=True))
        self.assertEqual(rows[0][:6], ("序号", "时间", "操作人", "用户名", "角色", "操作"))
        self.assertEqual(len(rows), 2)
        self.assertEqual(rows[1][2], "安全管理员乙")
        self.assertEqual(rows[1][5], "分配角色")
        self.assertIn("初审人员", rows[1][9])
        self.assertIn("年", sheet.cell(row=2, column=2).number_format)
        event = AuditEvent.objects.get(action="audit.log_export")
        self.assertEqual(event.after, {"filters": {"action": "accounts.roles_changed"}, "rows": 1})

    def test_it_rejects_a_period_that_ends_before_it_starts(self) -> None:
        response = self.client.get(
            reverse("console:audit"), {"date_from": "2026-05-02", "date_to": "2026-05-01"}
        )
        self.assertContains(response, "截止日期不能早于起始日期")


class RefusalTests(ConsoleTestCase):
    def test_it_refuses_each_administrator_the_duties_of_the_other_two(self) -> None:
        duties = {
            "sysadmin": [("get", "console:account_new"), ("get", "console:settings")],
            "secadmin": [("get", "console:security"), ("get", "console:lockouts")],
            "auditadmin": [("get", "console:audit"), ("get", "console:audit_export")],
        }
        posts = {
            "sysadmin": ("console:account_active", {"active": "0"}),
            "secadmin": ("console:account_roles", {"roles": [Role.FINANCE]}),
        }
        people = {"sysadmin": self.sysadmin, "secadmin": self.secadmin, "auditadmin": self.auditadmin}
        for who, user in people.items():
            self.client.logout()
            self.login(user)
            for owner, pages in duties.items():
                for _method, name in pages:
                    with self.subTest(who=who, page=name):
                        status = self.client.get(reverse(name)).status_code
                        self.assertEqual(status, 200 if owner == who else 403)
            for owner, (name, data) in posts.items():
                if owner == who:
                    continue
                with self.subTest(who=who, post=name):
                    response = self.client.post(reverse(name, args=[self.finance.pk]), data)
                    self.assertEqual(response.status_code, 403)
        self.finance.refresh_from_db()
        self.assertTrue(self.finance.is_active)
        self.assertEqual(self.finance.role_codes(), [Role.FINANCE])

    def test_it_refuses_business_roles_the_console(self) -> None:
        for user in (self.alice, self.reviewer, self.inspector, self.provider_user, self.outsider):
            self.client.logout()
            self.login(user)
            for name in ("console:home", "console:accounts", "console:audit", "console:security"):
                with self.subTest(user=user.username, page=name):
                    self.assertEqual(self.client.get(reverse(name)).status_code, 403)

    def test_it_serves_no_django_admin_that_would_bypass_the_audited_actions(self) -> None:
        self.login(self.sysadmin)
        response = self.client.get("/sysadmin/")
        self.assertRedirects(response, reverse("console:home"))
        self.assertEqual(self.client.get("/sysadmin/accounts/user/").status_code, 404)


class AuditLogWordingTests(ConsoleTestCase):
    def test_it_describes_the_codes_of_an_events_details_in_chinese(self) -> None:
        from accounts.console import describe_change
        from ledger.actions import record_event

        event = record_event(
            "application.clawback",
            actor=self.inspector,
            before={"status": "paid"},
            after={
                "status": "clawed_back",
                "amount": "10440.00",
                "flags": ["over_claim"],
                "kind": "business_license",
                "date": "2026-05-08",
            },
        )
        text = describe_change(event)
        for shown in ("状态：已兑现 → 已追回", "10,440.00", "申报超出监控用量", "营业执照复印件", "2026年5月8日"):
            self.assertIn(shown, text)
        for code in ("clawed_back", "over_claim", "business_license", "其他"):
            self.assertNotIn(code, text)
