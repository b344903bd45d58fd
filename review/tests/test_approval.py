"""Final approval under the annual cap (三（三）, docs/subsidy.md, docs/security.md)."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.utils import timezone

from accounts.roles import Role
from applications.models import AnnualGrant, Application
from applications.states import Status
from core.models import Notification
from enterprises.models import Enterprise
from ledger.models import AuditEvent
from review import actions
from review.models import ReviewStep
from review.tests.helpers import ReviewTestCase
from review.transitions import ReviewError
from testing.fixtures import make_application, make_enterprise, make_user


class ApprovalTests(ReviewTestCase):
    def final(self, cost: str = "50000.00", minutes: int = 100, **fields: Any) -> Application:
        return make_application(
            self.enterprise, self.alice, Status.FINAL_APPROVAL, cost=cost, minutes=minutes, **fields
        )

    def test_approval_fixes_the_granted_amount_and_the_annual_total(self) -> None:
        app = self.final()
        with self.captureOnCommitCallbacks(execute=True):
            actions.approve_application(app, actor=self.approver, opinion="同意")
        app.refresh_from_db()
        self.assertEqual(app.status, Status.APPROVED)
        self.assertEqual(app.granted_amount, Decimal("15000.00"))
        self.assertIsNotNone(app.approved_at)
        grant = AnnualGrant.objects.get(enterprise=self.enterprise, year=timezone.localdate().year)
        self.assertEqual((grant.total, grant.cap), (Decimal("15000.00"), Decimal("100000.00")))
        step = ReviewStep.objects.get(application=app, transition="approve")
        self.assertEqual(step.data["calculation"]["binding"], "rate")
        event = AuditEvent.objects.get(action="application.approve", result=AuditEvent.Result.SUCCESS)
        assert event.after is not None
        self.assertEqual(event.after["granted_amount"], "15000.00")
        message = Notification.objects.get(user=self.alice, kind=Notification.Kind.APPROVAL)
        self.assertIn("15,000.00", message.title)

    def test_approval_grants_what_is_left_of_the_annual_cap(self) -> None:
        # Worked example of docs/subsidy.md: 90,000 granted this year, 50,000 cost, 100 minutes → 10,000 (annual_cap).
        make_application(
            self.enterprise,
            self.alice,
            Status.PAID,
            cost="400000.00",
            minutes=500,
            granted_amount=Decimal("90000.00"),
        )
        app = self.final()
        actions.approve_application(app, actor=self.approver, opinion="同意补助")
        self.assertEqual(app.granted_amount, Decimal("10000.00"))
        step = ReviewStep.objects.get(application=app, transition="approve")
        self.assertEqual(step.data["calculation"]["binding"], "annual_cap")
        self.assertEqual(AnnualGrant.objects.get(enterprise=self.enterprise).total, Decimal("100000.00"))

    def test_approval_with_nothing_left_of_the_cap_is_refused(self) -> None:
        make_application(
            self.enterprise,
            self.alice,
            Status.APPROVED,
            cost="400000.00",
            minutes=500,
            granted_amount=Decimal("100000.00"),
        )
        app = self.final()
        with self.assertRaises(ReviewError) as refused:
            actions.approve_application(app, actor=self.approver, opinion="同意补助")
        self.assertEqual(refused.exception.status, 409)
        self.assertIn("额度", refused.exception.message)
        app.refresh_from_db()
        self.assertEqual(app.status, Status.FINAL_APPROVAL)
        self.assertIsNone(app.granted_amount)

    def test_clawed_back_awards_do_not_count_against_the_cap(self) -> None:
        make_application(
            self.enterprise,
            self.alice,
            Status.CLAWED_BACK,
            cost="400000.00",
            minutes=500,
            granted_amount=Decimal("100000.00"),
            paid_amount=Decimal("100000.00"),
            clawed_back_amount=Decimal("100000.00"),
        )
        app = self.final()
        actions.approve_application(app, actor=self.approver, opinion="同意补助")
        self.assertEqual(app.granted_amount, Decimal("15000.00"))

    def test_the_cap_is_per_calendar_year_of_submission(self) -> None:
        make_application(
            self.enterprise,
            self.alice,
            Status.PAID,
            submitted=dt.datetime(2026, 12, 31, 23, 30, tzinfo=SHANGHAI),
            cost="400000.00",
            minutes=500,
            granted_amount=Decimal("100000.00"),
        )
        with time_machine.travel(dt.datetime(2027, 1, 4, 10, tzinfo=SHANGHAI), tick=False):
            app = self.final()
            actions.approve_application(app, actor=self.approver, opinion="同意补助")
        self.assertEqual(app.granted_amount, Decimal("15000.00"))
        self.assertEqual(
            AnnualGrant.objects.get(enterprise=self.enterprise, year=2027).total, Decimal("15000.00")
        )

    def test_a_blacklisted_enterprise_is_not_approved(self) -> None:
        Enterprise.objects.filter(pk=self.enterprise.pk).update(blacklisted=True)
        app = self.final()
        with self.assertRaises(ReviewError) as refused:
            actions.approve_application(app, actor=self.approver, opinion="同意补助")
        self.assertIn("黑名单", refused.exception.message)

    def test_the_database_refuses_an_annual_total_over_the_cap(self) -> None:
        grant = AnnualGrant.objects.create(
            enterprise=self.enterprise, year=2026, total=Decimal("90000"), cap=Decimal("100000")
        )
        with self.assertRaises(IntegrityError), transaction.atomic():
            AnnualGrant.objects.filter(pk=grant.pk).update(total=Decimal("100000.01"))

    def test_approval_refused_by_the_database_cap_changes_nothing(self) -> None:
        # A total already at the cap that the applications table does not show (for example a
        # grant recorded by another path): the row's constraint still refuses the approval.
        AnnualGrant.objects.create(
            enterprise=self.enterprise,
            year=timezone.localdate().year,
            total=Decimal("95000"),
            cap=Decimal("100000"),
        )
        app = self.final()
        with self.assertRaises(ReviewError) as refused:
            actions.approve_application(app, actor=self.approver, opinion="同意补助")
        self.assertIn("超出企业年度补助上限", refused.exception.message)
        app.refresh_from_db()
        self.assertEqual(app.status, Status.FINAL_APPROVAL)
        self.assertEqual(AnnualGrant.objects.get(enterprise=self.enterprise).total, Decimal("95000.00"))
        self.assertFalse(ReviewStep.objects.filter(application=app).exists())

    def test_final_rejection_tells_the_applicant_why(self) -> None:
        app = self.final()
        with self.captureOnCommitCallbacks(execute=True):
            actions.reject_application(app, actor=self.approver, opinion="备案证明与作品不符")
        self.assertEqual(app.status, Status.REJECTED)
        message = Notification.objects.get(user=self.alice, kind=Notification.Kind.REJECTION)
        self.assertIn("备案证明与作品不符", message.body)

    def test_a_rejection_needs_an_opinion(self) -> None:
        app = self.final()
        with self.assertRaises(ReviewError) as refused:
            actions.reject_application(app, actor=self.approver, opinion=" ")
        self.assertEqual(refused.exception.status, 400)


# --- concurrency (PostgreSQL) -------------------------------------------------------------------

SHANGHAI = ZoneInfo("Asia/Shanghai")
COSTS = ["50000.00"] * 10  # each 15,000 by rate; 10 × 15,000 = 150,000 > the 100,000 cap


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_approvals_never_grant_more_than_the_annual_cap(settings: Any) -> None:
    assert connection.vendor == "postgresql"
    enterprise = make_enterprise("怀柔并发影业有限公司")
    applicant = make_user("conc-applicant", Role.APPLICANT, enterprise=enterprise)
    approver = make_user("conc-approver", Role.APPROVER)
    apps = [make_application(enterprise, applicant, Status.FINAL_APPROVAL, cost=cost) for cost in COSTS]
    barrier = threading.Barrier(len(apps))
    outcomes: dict[int, str] = {}

    def approve(app: Application) -> None:
        try:
            barrier.wait(timeout=30)
            actions.approve_application(app, actor=approver, opinion="同意补助")
            outcomes[app.pk] = "approved"
        except ReviewError as exc:
            outcomes[app.pk] = exc.message
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=approve, args=(app,)) for app in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(outcomes) == len(apps)

    granted = sorted(
        (
            a.granted_amount or Decimal(0)
            for a in Application.objects.filter(enterprise=enterprise, status=Status.APPROVED)
        ),
        reverse=True,
    )
    # 6 × 15,000 = 90,000; the 7th gets the 10,000 left (annual_cap binds); the other three are refused.
    assert sum(granted, Decimal(0)) == Decimal("100000.00")
    assert granted == [Decimal("15000.00")] * 6 + [Decimal("10000.00")]
    refused = [m for m in outcomes.values() if m != "approved"]
    assert len(refused) == 3
    assert all("额度" in m for m in refused)
    grant = AnnualGrant.objects.get(enterprise=enterprise)
    assert grant.total == Decimal("100000.00") <= grant.cap
    partial = ReviewStep.objects.get(
        application__enterprise=enterprise, transition="approve", data__calculation__binding="annual_cap"
    )
    assert partial.data["calculation"]["amount"] == "10000.00"
