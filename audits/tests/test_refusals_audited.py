"""A role refusal of an audit action is audited like a refused review step: a failed event of the
action, naming who tried and on what, written although the action changed nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import ClassVar

from django.core.exceptions import PermissionDenied

from applications.models import Application
from applications.states import Status
from audits import findings, fraud, spotchecks
from audits.tests.fixtures import make_paid_application
from ledger.models import AuditEvent
from testing.fixtures import BaseTestCase

BEIJING = dt.timezone(dt.timedelta(hours=8))


class RoleRefusalTests(BaseTestCase):
    app: ClassVar[Application]

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.app = make_paid_application(
            cls.enterprise,
            cls.alice,
            "京剧备字2026098号",
            submitted_at=dt.datetime(2026, 3, 2, 10, tzinfo=BEIJING),
            paid_at=dt.datetime(2026, 4, 10, tzinfo=BEIJING),
        )

    def failures(self) -> list[tuple[str, str, str, str]]:
        return [
            (e.action, e.actor_repr, e.object_type, e.object_id)
            for e in AuditEvent.objects.filter(result=AuditEvent.Result.FAILURE).order_by("id")
        ]

    def test_it_audits_a_clawback_refused_to_a_reviewer_and_changes_nothing(self) -> None:
        with self.assertRaises(PermissionDenied):
            fraud.claw_back(self.app, Decimal("15000.00"), actor=self.reviewer, reason="虚报算力消耗")
        self.assertEqual(
            self.failures(),
            [("application.clawback", "reviewer", "applications.Application", str(self.app.pk))],
        )
        event = AuditEvent.objects.get(result=AuditEvent.Result.FAILURE)
        assert event.after is not None
        self.assertEqual(event.after["http_status"], 403)
        self.assertIn("稽查", event.after["error"])
        self.app.refresh_from_db()
        self.assertEqual(self.app.status, Status.PAID)

    def test_it_audits_a_finding_refused_to_an_applicant_and_a_spot_check_refused_to_finance(self) -> None:
        with self.assertRaises(PermissionDenied):
            findings.record_finding(self.app, actor=self.alice, description="自查", source="other")
        with self.assertRaises(PermissionDenied):
            spotchecks.open_spot_check("2026Q2", actor=self.finance)
        self.assertEqual(
            self.failures(),
            [
                ("audit.finding.create", "alice", "applications.Application", str(self.app.pk)),
                ("audit.spot_check", "finance", "", ""),
            ],
        )

    def test_it_audits_a_blacklisting_refused_to_an_approver(self) -> None:
        with self.assertRaises(PermissionDenied):
            fraud.blacklist_enterprise(self.enterprise, reason="虚报", actor=self.approver)
        self.assertEqual(
            self.failures(),
            [("enterprise.blacklist", "approver", "enterprises.Enterprise", str(self.enterprise.pk))],
        )
        self.enterprise.refresh_from_db()
        self.assertFalse(self.enterprise.blacklisted)
