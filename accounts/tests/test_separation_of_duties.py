"""The role console refuses business roles that defeat the three-level review, and every refused
privileged change is in the audit log as a failure."""

from __future__ import annotations

from django.urls import reverse

from accounts.roles import Role, duty_conflicts
from accounts.tests.test_console import ConsoleTestCase
from ledger.models import AuditEvent
from testing.fixtures import make_user


class SeparationOfDutiesTests(ConsoleTestCase):
    def test_it_refuses_any_two_review_levels_and_approval_with_payment(self) -> None:
        for pair in (
            (Role.REVIEWER, Role.APPROVER),
            (Role.REVIEWER, Role.HEAD),
            (Role.HEAD, Role.APPROVER),
            (Role.APPROVER, Role.FINANCE),
        ):
            with self.subTest(pair=pair):
                self.assertTrue(duty_conflicts(pair))
        self.assertEqual(duty_conflicts([Role.REVIEWER, Role.INSPECTOR]), [])
        self.assertEqual(duty_conflicts([Role.HEAD, Role.FINANCE]), [])

    def test_it_refuses_giving_one_account_initial_review_and_approval_with_a_reason_and_audits_it(
        self,
    ) -> None:
        target = make_user("zhang", Role.REVIEWER, display_name="张初审")
        self.login(self.secadmin)
        response = self.client.post(
            reverse("console:account_roles", args=[target.pk]),
            {"roles": [Role.REVIEWER, Role.APPROVER]},
            follow=True,
        )
        self.assertContains(response, "同一账号不能同时担任初审人员和审批负责人")
        self.assertContains(response, "三级审核须由三名不同人员办理")
        target.refresh_from_db()
        self.assertEqual(target.role_codes(), [Role.REVIEWER])
        event = AuditEvent.objects.get(action="accounts.roles_changed")
        self.assertEqual(event.result, AuditEvent.Result.FAILURE)
        self.assertEqual(event.actor, self.secadmin)
        self.assertEqual(event.object_id, str(target.pk))
        assert event.after is not None
        self.assertEqual(event.after["roles"], ["approver", "reviewer"])
        self.assertIn("初审人员", event.after["error"])

    def test_it_audits_a_refused_admin_and_business_role_change_as_a_failure(self) -> None:
        target = make_user("li", Role.REVIEWER)
        self.login(self.secadmin)
        self.client.post(
            reverse("console:account_roles", args=[target.pk]), {"roles": [Role.REVIEWER, Role.SYSADMIN]}
        )
        event = AuditEvent.objects.get(action="accounts.roles_changed")
        self.assertEqual(event.result, AuditEvent.Result.FAILURE)
        assert event.after is not None
        self.assertIn("管理员角色不能与业务角色同时担任", event.after["error"])

    def test_it_audits_a_sysadmin_refused_disabling_their_own_account(self) -> None:
        self.login(self.sysadmin)
        self.client.post(reverse("console:account_active", args=[self.sysadmin.pk]), {"active": "0"})
        event = AuditEvent.objects.get(action="accounts.active_changed")
        self.assertEqual(event.result, AuditEvent.Result.FAILURE)
        self.sysadmin.refresh_from_db()
        self.assertTrue(self.sysadmin.is_active)

    def test_it_audits_a_refused_account_creation_as_a_failure(self) -> None:
        self.login(self.sysadmin)
        self.client.post(
            reverse("console:account_new"),
            {
                "username": self.reviewer.username,
                "display_name": "重名",
                "email": "x@example.cn",
                "password1": "Yd-New-Passw0rd!",
                "password2": "Yd-New-Passw0rd!",
            },
        )
        event = AuditEvent.objects.get(action="accounts.create")
        self.assertEqual(event.result, AuditEvent.Result.FAILURE)
        assert event.after is not None
        self.assertIn("已被使用", event.after["error"])
