"""Approval and clawback of one enterprise lock their rows in one order, so they never deadlock.

Both go through ``applications.money.lock_money_rows`` (the application row, then the
enterprise row; the enterprise-year record is written under both). Each round, on PostgreSQL
with real transactions in four threads released together: an approval and a clawback of two
applications of one enterprise (both go through), and an approval and a clawback of one and the
same application (the clawback is refused once it gets the row: the application is not paid).
Before the order was one, the last pair could wait on each other's rows until PostgreSQL broke
the deadlock by failing one of them.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from decimal import Decimal

import pytest
import time_machine
from django.db import close_old_connections, connection

from accounts.models import User
from accounts.roles import Role
from applications.models import AnnualGrant, Application
from applications.money import enterprise_year_money
from applications.states import Status
from audits import fraud
from audits.guards import AuditRefused
from ledger.verify import verify_log
from review import actions as review
from review.transitions import ReviewError
from testing.fixtures import make_application, make_enterprise, make_user

ROUNDS = 6
BEIJING = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 11, 20, 10, tzinfo=BEIJING)
SUBMITTED = dt.datetime(2026, 3, 2, 9, tzinfo=BEIJING)
NOT_PAID = "只有已兑现"


def race(jobs: dict[str, Callable[[], object]]) -> dict[str, str]:
    """Run the jobs at once, each in its own thread and database connection; what each ended with."""
    barrier = threading.Barrier(len(jobs))
    outcomes: dict[str, str] = {}

    def run(key: str, call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=30)
            call()
            outcomes[key] = "done"
        except (ReviewError, AuditRefused) as exc:
            outcomes[key] = str(getattr(exc, "message", exc))
        except Exception as exc:  # a deadlock error, or anything else: reported by the assertion
            outcomes[key] = f"{type(exc).__name__}: {exc}"
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=job) for job in jobs.items()]
    # One pinned clock for all threads (time_machine patches the process, not a thread).
    with time_machine.travel(NOW, tick=False):
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    return outcomes


def paid_application(enterprise_no: int, approver: User, finance: User) -> tuple[Application, User]:
    enterprise = make_enterprise(f"怀柔第{enterprise_no}影视文化有限公司")
    applicant = make_user(f"lock-applicant-{enterprise_no}", Role.APPLICANT, enterprise=enterprise)
    with time_machine.travel(NOW, tick=False):
        paid = make_application(enterprise, applicant, Status.FINAL_APPROVAL, submitted=SUBMITTED)
        review.approve_application(paid, actor=approver, opinion="同意")
        review.record_payment(
            paid,
            date=NOW.date(),
            amount=paid.granted_amount or Decimal("0"),
            bank_reference="P",
            actor=finance,
        )
    return paid, applicant


def jobs(
    paid: Application, other: Application, same: Application, *, approver: User, inspector: User
) -> dict[str, Callable[[], object]]:
    """One round's four actions on one enterprise."""
    reason = "核查属实，追回补贴"
    same_again = Application.objects.get(pk=same.pk)  # each thread its own instance
    return {
        "approve other": lambda: review.approve_application(other, actor=approver, opinion="同意"),
        "claw back paid": lambda: fraud.claw_back(paid, paid.paid_amount, actor=inspector, reason=reason),
        "approve same": lambda: review.approve_application(same, actor=approver, opinion="同意"),
        "claw back same": lambda: fraud.claw_back(
            same_again, Decimal("100.00"), actor=inspector, reason=reason
        ),
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_never_deadlocks_an_approval_and_a_clawback_of_one_enterprise() -> None:
    assert connection.vendor == "postgresql"
    approver = make_user("lock-approver", Role.APPROVER)
    finance = make_user("lock-finance", Role.FINANCE)
    inspector = make_user("lock-inspector", Role.INSPECTOR)
    for n in range(ROUNDS):
        paid, applicant = paid_application(n, approver, finance)
        enterprise = paid.enterprise
        with time_machine.travel(NOW, tick=False):
            other = make_application(enterprise, applicant, Status.FINAL_APPROVAL, submitted=SUBMITTED)
            same = make_application(enterprise, applicant, Status.FINAL_APPROVAL, submitted=SUBMITTED)

        outcomes = race(jobs(paid, other, same, approver=approver, inspector=inspector))

        # Every thread finished with its own outcome: no deadlock, no other database error.
        assert len(outcomes) == 4, (n, outcomes)
        assert (
            outcomes["approve other"] == outcomes["claw back paid"] == outcomes["approve same"] == "done"
        ), (
            n,
            outcomes,
        )
        assert NOT_PAID in outcomes["claw back same"], (n, outcomes)
        # The money adds up: the record is what the applications keep, within the cap.
        for app in (paid, other, same):
            app.refresh_from_db()
        assert (paid.status, paid.clawed_back_amount) == (Status.CLAWED_BACK, paid.granted_amount)
        assert other.status == same.status == Status.APPROVED
        money = enterprise_year_money(enterprise.pk, 2026)
        assert money.kept == (other.granted_amount or 0) + (same.granted_amount or 0)
        record = AnnualGrant.objects.get(enterprise=enterprise, year=2026)
        assert record.total == money.kept <= record.cap, (record, money)
    result = verify_log()
    assert result.ok, [str(p) for p in result.problems]
