from __future__ import annotations

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.actions import assign_roles
from accounts.roles import Role, role_conflicts
from ledger.models import AuditEvent
from testing.fixtures import BaseTestCase, make_user


class RoleSeparationTests(BaseTestCase):
    def test_a_user_cannot_hold_two_administrator_roles(self) -> None:
        admin = make_user("admin1", Role.SYSADMIN)
        with self.assertRaises(ValidationError):
            assign_roles(admin, [Role.SYSADMIN, Role.AUDITADMIN], actor=self.outsider)
        self.assertEqual(admin.role_codes(), [Role.SYSADMIN])

    def test_adding_a_second_admin_group_directly_is_refused(self) -> None:
        admin = make_user("admin2", Role.SECADMIN)
        group = Group.objects.get_or_create(name=Role.AUDITADMIN)[0]
        with self.assertRaises(ValidationError), transaction.atomic():
            admin.groups.add(group)
        self.assertEqual(sorted(admin.groups.values_list("name", flat=True)), [Role.SECADMIN])

    def test_an_administrator_cannot_hold_a_business_role(self) -> None:
        self.assertTrue(role_conflicts([Role.SYSADMIN, Role.REVIEWER]))

    def test_staff_cannot_act_as_applicants(self) -> None:
        self.assertTrue(role_conflicts([Role.REVIEWER, Role.APPLICANT]))

    def test_allowed_combination_passes(self) -> None:
        self.assertEqual(role_conflicts([Role.REVIEWER, Role.INSPECTOR]), [])

    def test_role_change_is_audited_with_before_and_after(self) -> None:
        user = make_user("staff1", Role.REVIEWER)
        assign_roles(user, [Role.REVIEWER, Role.INSPECTOR], actor=self.outsider)
        event = AuditEvent.objects.get(action="accounts.roles_changed")
        self.assertEqual(event.before, {"roles": ["reviewer"]})
        self.assertEqual(event.after, {"roles": ["inspector", "reviewer"]})
        self.assertEqual(event.actor, self.outsider)


class AuditAppendOnlyTests(BaseTestCase):
    def test_audit_events_cannot_be_updated_or_deleted_by_the_application(self) -> None:
        from ledger.actions import record_event
        from ledger.models import AppendOnlyError

        event = record_event("test.event", actor=self.alice)
        with self.assertRaises(AppendOnlyError):
            AuditEvent.objects.filter(pk=event.pk).update(action="x")
        with self.assertRaises(AppendOnlyError):
            AuditEvent.objects.filter(pk=event.pk).delete()
        with self.assertRaises(AppendOnlyError):
            event.save()
