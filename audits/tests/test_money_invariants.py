"""Money always adds up: random sequences of the real actions, and the invariants after every step.

A hypothesis state machine drives submission, supplement and resubmission, approval, rejection,
withdrawal, payment, partial and full clawbacks, repayments and write-offs across two
enterprises and two submission years, and after every step checks the annual cap, the quota
the applicant sees, the dashboard's and the workbook's totals against the application rows,
the budget left, and the log. Then ten approvals and clawbacks for one enterprise race on
PostgreSQL connections.

The annual cap is lowered to 40,000.00 in a copy of the policy parameters (caps are
parameters, SPEC §2), so that a few approvals reach it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import tempfile
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest
import time_machine
from django.db import close_old_connections, connection, transaction
from django.test import override_settings
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from openpyxl import Workbook

from accounts.models import User
from accounts.roles import Role
from applications import actions as intake
from applications.models import AnnualGrant, Application
from applications.money import enterprise_year_money
from applications.states import GRANTED, IN_REVIEW, Status
from audits import fraud
from audits.guards import AuditRefused
from audits.models import Clawback, Repayment
from core.transactions import batch
from enterprises.models import Enterprise
from ledger.verify import verify_log
from policy.loader import DEFAULT_DIRECTORY, clear_cache
from policy.queries import year_bounds
from reports import exports, queries
from reports.budget import budget_for
from review import actions as review
from review import resubmission
from review.transitions import ReviewError
from testing.fixtures import make_application, make_enterprise, make_user

CAP = Decimal("40000.00")
YEARS = (2026, 2027)
BEIJING = dt.timezone(dt.timedelta(hours=8))
CENT = Decimal("0.01")


def policy_with_cap(cap: Decimal) -> Path:
    """A copy of the shipped policy parameters with another annual cap."""
    folder = Path(tempfile.mkdtemp(prefix="policy-cap-"))
    shutil.copytree(DEFAULT_DIRECTORY, folder, dirs_exist_ok=True)
    path = folder / "enterprise.annual_cap.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("value: 100000", f"value: {cap}"), encoding="utf-8"
    )
    return folder


def action_time(year: int) -> dt.datetime:
    """Every action on an application of ``year`` happens in that year's November, so each
    figure of a year comes from that year's applications alone."""
    return dt.datetime(year, 11, 20, 10, tzinfo=BEIJING)


class Staff:
    reviewer: ClassVar[User]
    head: ClassVar[User]
    approver: ClassVar[User]
    finance: ClassVar[User]
    inspector: ClassVar[User]
    enterprises: ClassVar[list[Enterprise]]
    applicants: ClassVar[list[User]]


class MoneyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # Each run of the machine is one batch of actions (core.transactions), rolled back at the end.
        self.atomic = batch()
        self.atomic.__enter__()
        self.status: dict[int, str] = {}
        self.year: dict[int, int] = {}
        self.submitted = 0
        # The years a step changed: only their figures can have moved, so only they are
        # recomputed after the step (the other year's figures were checked when last changed).
        self.dirty: set[int] = set(YEARS)

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    # --- helpers -------------------------------------------------------------------------------

    def with_status(self, *statuses: Status) -> list[int]:
        return sorted(pk for pk, s in self.status.items() if s in statuses)

    def act(self, pk: int, do: Any) -> Application:
        self.dirty.add(self.year[pk])
        app = Application.objects.get(pk=pk)
        # A refusal changes nothing; the invariants say whether it was right.
        with (
            time_machine.travel(action_time(self.year[pk]), tick=False),
            contextlib.suppress(ReviewError, AuditRefused),
        ):
            do(app)
        app.refresh_from_db()
        self.status[pk] = app.status
        return app

    def pick(self, data: st.DataObject, *statuses: Status) -> int:
        return data.draw(st.sampled_from(self.with_status(*statuses)))

    # --- rules ---------------------------------------------------------------------------------

    @rule(
        who=st.integers(0, 1),
        year=st.sampled_from(YEARS),
        overseas=st.booleans(),
        cost=st.sampled_from(["20000.00", "50000.00", "66666.67", "90000.00"]),
    )
    def submit(self, who: int, year: int, overseas: bool, cost: str) -> None:
        self.submitted += 1
        submitted = dt.datetime(year, 3, 2, 9, tzinfo=BEIJING) + dt.timedelta(minutes=self.submitted)
        app = make_application(
            Staff.enterprises[who],
            Staff.applicants[who],
            Status.SUBMITTED,
            submitted=submitted,
            cost=cost,
            minutes=120,
            overseas=overseas,
        )
        self.status[app.pk], self.year[app.pk] = app.status, year
        self.dirty.add(year)

    @precondition(lambda self: self.with_status(Status.SUBMITTED))
    @rule(data=st.data(), withdraw=st.booleans())
    def claim_or_withdraw(self, data: st.DataObject, withdraw: bool) -> None:
        pk = self.pick(data, Status.SUBMITTED)
        if withdraw:
            self.act(pk, lambda a: intake.withdraw_application(a, actor=a.created_by, reason="不再申报"))
        else:
            self.act(pk, lambda a: review.claim_application(a, actor=Staff.reviewer, opinion="受理"))

    @precondition(lambda self: self.with_status(Status.INITIAL_REVIEW))
    @rule(data=st.data())
    def request_supplement(self, data: st.DataObject) -> None:
        pk = self.pick(data, Status.INITIAL_REVIEW)
        self.act(
            pk,
            lambda a: review.request_supplement(
                a, items=[("row:total_compute_cost", "与结算凭证不符，请更正")], actor=Staff.reviewer
            ),
        )

    @precondition(lambda self: self.with_status(Status.SUPPLEMENT_REQUESTED))
    @rule(data=st.data(), cost=st.sampled_from(["30000.00", "48000.00", "80000.00"]))
    def resubmit(self, data: st.DataObject, cost: str) -> None:
        pk = self.pick(data, Status.SUPPLEMENT_REQUESTED)
        owner = Application.objects.get(pk=pk).created_by
        self.act(
            pk,
            lambda a: resubmission.resubmit_application(
                a, answers={}, row_values={"total_compute_cost": cost}, actor=owner
            ),
        )

    @precondition(lambda self: self.with_status(Status.INITIAL_REVIEW, Status.RE_REVIEW))
    @rule(data=st.data())
    def pass_review(self, data: st.DataObject) -> None:
        pk = self.pick(data, Status.INITIAL_REVIEW, Status.RE_REVIEW)
        if self.status[pk] == Status.INITIAL_REVIEW:
            self.act(pk, lambda a: review.pass_initial_review(a, actor=Staff.reviewer, opinion="材料齐全"))
        else:
            self.act(pk, lambda a: review.pass_re_review(a, actor=Staff.head, opinion="复核无误"))

    @precondition(lambda self: self.with_status(Status.FINAL_APPROVAL))
    @rule(data=st.data())
    def approve(self, data: st.DataObject) -> None:
        pk = self.pick(data, Status.FINAL_APPROVAL)
        app = self.act(pk, lambda a: review.approve_application(a, actor=Staff.approver, opinion="同意"))
        if app.status == Status.FINAL_APPROVAL:
            # Refused only because the enterprise-year has nothing left under the cap.
            money = enterprise_year_money(app.enterprise_id, self.year[pk])
            assert money.kept == CAP, money

    @precondition(lambda self: self.with_status(Status.INITIAL_REVIEW, Status.FINAL_APPROVAL))
    @rule(data=st.data())
    def reject(self, data: st.DataObject) -> None:
        pk = self.pick(data, Status.INITIAL_REVIEW, Status.FINAL_APPROVAL)
        actor = Staff.reviewer if self.status[pk] == Status.INITIAL_REVIEW else Staff.approver
        self.act(pk, lambda a: review.reject_application(a, actor=actor, opinion="不符合申报条件"))

    @precondition(lambda self: self.with_status(Status.APPROVED))
    @rule(data=st.data())
    def pay(self, data: st.DataObject) -> None:
        pk = self.pick(data, Status.APPROVED)
        self.act(
            pk,
            lambda a: review.record_payment(
                a,
                date=action_time(self.year[pk]).date(),
                amount=a.granted_amount,
                bank_reference=f"PAY-{a.pk}",
                actor=Staff.finance,
            ),
        )

    @precondition(lambda self: self.with_status(Status.PAID))
    @rule(data=st.data(), share=st.integers(1, 100))
    def claw_back(self, data: st.DataObject, share: int) -> None:
        """``share`` per cent of the payment: 100 is a full clawback, anything less a partial one."""
        pk = self.pick(data, Status.PAID)
        paid = Application.objects.get(pk=pk).paid_amount
        amount = max((paid * share / 100).quantize(CENT), CENT)
        app = self.act(
            pk, lambda a: fraud.claw_back(a, amount, actor=Staff.inspector, reason="核查属实，追回补贴")
        )
        expected = Status.CLAWED_BACK if amount == paid else Status.PARTIALLY_CLAWED_BACK
        assert (app.status, app.clawed_back_amount) == (expected, amount)

    @precondition(lambda self: self.with_status(Status.PARTIALLY_CLAWED_BACK, Status.CLAWED_BACK))
    @rule(data=st.data(), share=st.integers(1, 100), write_off=st.booleans())
    def repay(self, data: st.DataObject, share: int, write_off: bool) -> None:
        pk = self.pick(data, Status.PARTIALLY_CLAWED_BACK, Status.CLAWED_BACK)
        claw = Clawback.objects.get(application_id=pk)
        if claw.outstanding == 0:
            return
        if write_off and share > 80:
            self.act(pk, lambda a: fraud.write_off_clawback(claw, reason="无法追缴", actor=Staff.finance))
            return
        amount = max((claw.outstanding * share / 100).quantize(CENT), CENT)
        self.act(
            pk,
            lambda a: fraud.record_repayment(
                claw,
                amount=amount,
                date=action_time(self.year[pk]).date(),
                reference=f"R-{pk}-{share}",
                actor=Staff.finance,
            ),
        )

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def money_adds_up(self) -> None:
        for year in sorted(self.dirty):
            today = action_time(year).date()
            start, end = year_bounds(year)
            rows = list(Application.objects.filter(submitted_at__gte=start, submitted_at__lt=end))
            for enterprise, applicant in zip(Staff.enterprises, Staff.applicants, strict=True):
                money = enterprise_year_money(enterprise.pk, year)
                mine = [a for a in rows if a.enterprise_id == enterprise.pk and a.granted_amount is not None]
                assert money.kept == sum((a.kept_amount for a in mine), Decimal("0.00"))
                assert money.kept <= CAP, (enterprise.name, year, money)
                grant = AnnualGrant.objects.filter(enterprise=enterprise, year=year).first()
                assert grant is None or grant.total == money.kept, (grant, money)
                quota = queries.enterprise_overview(enterprise.pk, applicant, today)["quota"]
                assert quota["left"] == CAP - money.kept, (quota, money)
            self.reports_add_up(year, rows)
        self.dirty.clear()
        # Each receivable is what its application's record says, instalments included.
        for claw in Clawback.objects.select_related("application"):
            app = claw.application
            repaid = sum((r.amount for r in Repayment.objects.filter(clawback=claw)), Decimal("0.00"))
            assert (claw.amount, claw.repaid, claw.written_off) == (
                app.clawed_back_amount,
                app.repaid_amount,
                app.written_off_amount,
            )
            assert repaid == claw.repaid
        result = verify_log()
        assert result.ok, [str(p) for p in result.problems]

    def reports_add_up(self, year: int, rows: list[Application]) -> None:
        data = queries.dashboard(year, action_time(year).date())
        totals = data["totals"]
        expected = {
            "granted": sum((a.granted_amount or Decimal("0") for a in rows), Decimal("0.00")),
            "paid": sum((a.paid_amount for a in rows), Decimal("0.00")),
            "clawed_back": sum((a.clawed_back_amount for a in rows), Decimal("0.00")),
            "repaid": sum((a.repaid_amount for a in rows), Decimal("0.00")),
            "written_off": sum((a.written_off_amount for a in rows), Decimal("0.00")),
            "outstanding": sum((a.outstanding_amount for a in rows), Decimal("0.00")),
        }
        for key, amount in expected.items():
            assert Decimal(totals[key]) == amount, (year, key, totals[key], amount)
            assert sum(Decimal(v) for v in data["monthly"][key]) == amount, (year, key)
        assert totals["approved"] == sum(1 for a in rows if a.status in GRANTED)
        assert totals["in_review"] == sum(1 for a in rows if a.status in IN_REVIEW)
        assert totals["rejected"] == sum(1 for a in rows if a.status == Status.REJECTED)
        budget = budget_for(year)
        if budget is not None:
            left = budget.amount - expected["granted"] + expected["repaid"]  # only repaid money returns
            assert Decimal(data["budget"]["left"]) == left
        sheet = Workbook().active
        assert sheet is not None
        exports._monthly_sheet(sheet, year)
        values = [list(r) for r in sheet.iter_rows(values_only=True)]
        column = dict(zip(values[0], values[13], strict=False))
        assert values[13][0] == "合计"
        for header, key in (
            ("核定金额（元）", "granted"),
            ("兑现金额（元）", "paid"),
            ("追回金额（元）", "clawed_back"),
            ("缴回金额（元）", "repaid"),
            ("核销金额（元）", "written_off"),
            ("追回未结（元）", "outstanding"),
        ):
            assert Decimal(str(column[header])) == expected[key], (year, header)


@pytest.fixture
def low_cap() -> Iterator[None]:
    folder = policy_with_cap(CAP)
    clear_cache()
    try:
        with override_settings(POLICY_PARAMETERS_DIR=str(folder)):
            yield
    finally:
        clear_cache()
        shutil.rmtree(folder, ignore_errors=True)


def make_staff() -> None:
    Staff.reviewer = make_user("m-reviewer", Role.REVIEWER)
    Staff.head = make_user("m-head", Role.HEAD)
    Staff.approver = make_user("m-approver", Role.APPROVER)
    Staff.finance = make_user("m-finance", Role.FINANCE)
    Staff.inspector = make_user("m-inspector", Role.INSPECTOR)
    Staff.enterprises = [make_enterprise("怀柔甲影业有限公司"), make_enterprise("怀柔乙文化传媒有限公司")]
    Staff.applicants = [
        make_user(f"m-applicant-{i}", Role.APPLICANT, enterprise=e) for i, e in enumerate(Staff.enterprises)
    ]


@pytest.mark.postgres
@pytest.mark.django_db
def test_it_keeps_every_figure_consistent_under_random_sequences_of_actions(low_cap: None) -> None:
    assert connection.vendor == "postgresql"
    make_staff()
    run_state_machine_as_test(
        MoneyMachine,
        settings=settings(
            max_examples=4,
            stateful_step_count=25,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


# --- ten approvals and clawbacks racing (PostgreSQL) --------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_never_exceeds_the_cap_nor_loses_a_money_record_under_concurrent_approvals_and_clawbacks(
    low_cap: None,
) -> None:
    assert connection.vendor == "postgresql"
    make_staff()
    enterprise, applicant = Staff.enterprises[0], Staff.applicants[0]
    submitted = dt.datetime(2026, 3, 2, 9, tzinfo=BEIJING)
    with time_machine.travel(action_time(2026), tick=False):
        # Two paid awards of 15,000.00 (30,000.00 kept of the 40,000.00 cap) ...
        paid = []
        for _ in range(2):
            app = make_application(enterprise, applicant, Status.FINAL_APPROVAL, submitted=submitted)
            review.approve_application(app, actor=Staff.approver, opinion="同意")
            review.record_payment(
                app,
                date=action_time(2026).date(),
                amount=app.granted_amount or Decimal("0"),
                bank_reference="P",
                actor=Staff.finance,
            )
            paid.append(app)
        # ... then six approvals of 15,000.00 each and four partial clawbacks of 4,000.00 race.
        pending = [
            make_application(enterprise, applicant, Status.FINAL_APPROVAL, submitted=submitted)
            for _ in range(6)
        ]
    barrier = threading.Barrier(10)
    outcomes: dict[str, str] = {}

    def run(key: str, call: Any) -> None:
        try:
            barrier.wait(timeout=30)
            call()
            outcomes[key] = "done"
        except (ReviewError, AuditRefused) as exc:
            outcomes[key] = str(getattr(exc, "message", exc))
        finally:
            close_old_connections()
            connection.close()

    jobs: list[tuple[str, Any]] = [
        (f"approve-{a.pk}", lambda a=a: review.approve_application(a, actor=Staff.approver, opinion="同意"))
        for a in pending
    ]
    # Each paid award is clawed back twice over (4,000.00 each time): one of each pair must be
    # refused, as the application is no longer 已兑现, and neither may be lost or doubled.
    jobs += [
        (
            f"claw-{a.pk}-{i}",
            lambda a=a: fraud.claw_back(a, Decimal("4000.00"), actor=Staff.inspector, reason="核查属实"),
        )
        for a in paid
        for i in range(2)
    ]
    threads = [threading.Thread(target=run, args=job) for job in jobs]
    # One pinned clock for all threads (time_machine patches the process, not a thread).
    with time_machine.travel(action_time(2026), tick=False):
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert len(outcomes) == 10, outcomes

    money = enterprise_year_money(enterprise.pk, 2026)
    assert money.kept <= CAP
    grant = AnnualGrant.objects.get(enterprise=enterprise, year=2026)
    assert grant.total == money.kept <= grant.cap == CAP
    clawbacks = list(Clawback.objects.filter(application__in=paid))
    assert sorted(c.application_id for c in clawbacks) == sorted(a.pk for a in paid)
    for claw in clawbacks:
        app = Application.objects.get(pk=claw.application_id)
        assert (app.status, app.clawed_back_amount, claw.amount) == (
            Status.PARTIALLY_CLAWED_BACK,
            Decimal("4000.00"),
            Decimal("4000.00"),
        )
    assert money.clawed_back == Decimal("8000.00")
    approved = Application.objects.filter(pk__in=[a.pk for a in pending], granted_amount__isnull=False)
    # Every approval that went through is in the record; every refusal names the quota.
    assert money.granted == Decimal("30000.00") + sum((a.granted_amount or 0 for a in approved), Decimal("0"))
    refused = [m for k, m in outcomes.items() if k.startswith("approve") and m != "done"]
    assert all("额度" in m for m in refused), refused
    assert sum(1 for k, m in outcomes.items() if k.startswith("claw") and m == "done") == 2
    assert sum(1 for k, m in outcomes.items() if k.startswith("claw") and "只有已兑现" in m) == 2
