"""兑现: the payment equals the grant (docs/states.md), and atomicity of the money operations (docs/security.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from applications.models import AnnualGrant, Application
from applications.states import Status
from core.models import Notification
from ledger.models import AuditEvent, LogState
from review import actions
from review.models import Payment, ReviewStep
from review.tests.helpers import ReviewTestCase
from review.transitions import ReviewError
from testing.fixtures import make_application


@contextmanager
def failing_status_update() -> Iterator[None]:
    """A fault at the database: any UPDATE of an application's status fails.

    The actions write the audit event (and its ledger entry) before they update the
    application, so this fails *after* the ledger write, as docs/security.md asks.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION review_test_fault() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'injected fault'; END $$"
            )
            cursor.execute(
                "CREATE TRIGGER review_test_fault BEFORE UPDATE OF status ON applications_application "
                "FOR EACH ROW EXECUTE FUNCTION review_test_fault()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER review_test_fault BEFORE UPDATE OF status ON applications_application "
                "BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
            )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "DROP TRIGGER review_test_fault"
                + (" ON applications_application" if connection.vendor == "postgresql" else "")
            )
            if connection.vendor == "postgresql":
                cursor.execute("DROP FUNCTION review_test_fault()")


def ledger_size() -> int:
    state = LogState.objects.filter(pk=1).first()
    return state.size if state else 0


class PaymentTests(ReviewTestCase):
    def setUp(self) -> None:
        self.app = make_application(self.enterprise, self.alice, Status.FINAL_APPROVAL)
        actions.approve_application(self.app, actor=self.approver, opinion="同意补助")
        self.today = timezone.localdate()

    def test_finance_records_the_payment_of_the_granted_amount(self) -> None:
        with self.captureOnCommitCallbacks(execute=True):
            payment = actions.record_payment(
                self.app,
                date=self.today,
                amount=Decimal("15000.00"),
                bank_reference=" BOC20260302001 ",
                actor=self.finance,
            )
        self.assertEqual(self.app.status, Status.PAID)
        self.assertIsNotNone(self.app.paid_at)
        self.assertEqual((payment.amount, payment.bank_reference), (Decimal("15000.00"), "BOC20260302001"))
        self.assertEqual(payment.recorded_by, self.finance)
        event = AuditEvent.objects.get(action="application.pay")
        assert event.after is not None
        self.assertEqual(event.after["amount"], "15000.00")
        self.assertTrue(Notification.objects.filter(user=self.alice, kind=Notification.Kind.PAYMENT).exists())

    def test_a_payment_that_differs_from_the_grant_is_refused(self) -> None:
        self.login(self.finance)
        response = self.client.post(
            reverse("review:payment", args=[self.app.pk]),
            {"date": self.today.isoformat(), "amount": "15000.01", "bank_reference": "BOC-1"},
        )
        self.assertContains(response, "与核定补贴金额 15,000.00 元不一致", status_code=400)
        self.app.refresh_from_db()
        self.assertEqual(self.app.status, Status.APPROVED)
        self.assertFalse(Payment.objects.exists())
        self.assertEqual(AuditEvent.objects.get(action="application.pay").result, AuditEvent.Result.FAILURE)

    def test_a_payment_needs_a_bank_reference_and_a_sensible_date(self) -> None:
        cases: list[tuple[dict[str, Any], str]] = [
            ({"bank_reference": "  "}, "银行流水号"),
            ({"date": self.today + dt.timedelta(days=1)}, "不能晚于今天"),
            ({"date": self.today - dt.timedelta(days=30)}, "不能早于审批日期"),
        ]
        for kwargs, message in cases:
            values: dict[str, Any] = {
                "date": self.today,
                "amount": Decimal("15000.00"),
                "bank_reference": "BOC-1",
                **kwargs,
            }
            with self.subTest(message), self.assertRaises(ReviewError) as refused:
                actions.record_payment(self.app, actor=self.finance, **values)
            self.assertIn(message, refused.exception.message)
        self.assertFalse(Payment.objects.exists())

    def test_the_database_refuses_a_payment_row_that_differs_from_its_grant(self) -> None:
        with self.assertRaises(IntegrityError), transaction.atomic():
            Payment.objects.create(
                application=self.app,
                date=self.today,
                amount=Decimal("14999.00"),
                granted_amount=Decimal("15000.00"),
                bank_reference="x",
                recorded_by=self.finance,
            )

    def test_a_payment_cannot_be_recorded_twice(self) -> None:
        actions.record_payment(
            self.app, date=self.today, amount=Decimal("15000.00"), bank_reference="B1", actor=self.finance
        )
        with self.assertRaises(ReviewError) as refused:
            actions.record_payment(
                self.app, date=self.today, amount=Decimal("15000.00"), bank_reference="B2", actor=self.finance
            )
        self.assertEqual(refused.exception.status, 409)
        self.assertEqual(Payment.objects.count(), 1)

    def test_the_payment_form_is_shown_to_finance_only(self) -> None:
        self.login(self.finance)
        self.assertContains(
            self.client.get(reverse("review:detail", args=[self.app.pk])), 'id="payment-form"'
        )
        self.login(self.reviewer)
        self.assertNotContains(
            self.client.get(reverse("review:detail", args=[self.app.pk])), 'id="payment-form"'
        )


class AtomicityTests(ReviewTestCase):
    """An exception after the ledger write and before the status update rolls everything back."""

    def test_a_payment_failing_after_the_ledger_write_leaves_no_trace(self) -> None:
        app = make_application(self.enterprise, self.alice, Status.FINAL_APPROVAL)
        actions.approve_application(app, actor=self.approver, opinion="同意补助")
        events, size = AuditEvent.objects.count(), ledger_size()

        with failing_status_update(), self.assertRaisesMessage(Exception, "injected fault"):
            actions.record_payment(
                app,
                date=timezone.localdate(),
                amount=Decimal("15000.00"),
                bank_reference="B1",
                actor=self.finance,
            )

        self.assertEqual(Application.objects.get(pk=app.pk).status, Status.APPROVED)
        self.assertFalse(Payment.objects.exists())
        self.assertFalse(ReviewStep.objects.filter(transition="pay").exists())
        self.assertEqual(AuditEvent.objects.count(), events)
        self.assertEqual(ledger_size(), size)

    def test_an_approval_failing_after_the_ledger_write_grants_nothing(self) -> None:
        app = make_application(self.enterprise, self.alice, Status.FINAL_APPROVAL)
        events, size = AuditEvent.objects.count(), ledger_size()

        with failing_status_update(), self.assertRaisesMessage(Exception, "injected fault"):
            actions.approve_application(app, actor=self.approver, opinion="同意补助")

        app.refresh_from_db()
        self.assertEqual((app.status, app.granted_amount), (Status.FINAL_APPROVAL, None))
        self.assertFalse(AnnualGrant.objects.filter(total__gt=0).exists())
        self.assertFalse(ReviewStep.objects.exists())
        self.assertEqual(AuditEvent.objects.count(), events)
        self.assertEqual(ledger_size(), size)
