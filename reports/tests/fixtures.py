"""A fixed year of applications, payments and usage with figures worked out by hand (docs/reports.md).

Deadlines below come from the 2026 State Council schedule (chinesecalendar); "today" is
2026-07-10. Each application's comment says what it contributes to the dashboard.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from applications.models import Application
from applications.states import Status
from enterprises.models import Enterprise, Provider
from policy.queries import POLICY_TZ
from testing.fixtures import BaseTestCase, make_enterprise, make_user
from testing.fixtures import make_application as build_application

TODAY = dt.date(2026, 7, 10)
NOW = dt.datetime(2026, 7, 10, 10, 0, tzinfo=POLICY_TZ)
INJECTION = '=HYPERLINK("http://x","y")'


def at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), tzinfo=POLICY_TZ)


def make_application(
    enterprise: Enterprise,
    creator: Any,
    *,
    status: Status,
    reference: str | None,
    submitted: str | None,
    requested: str | None = None,
    received: str | None = None,
    approved: str | None = None,
    granted: str | None = None,
    paid: str | None = None,
    created: str = "2026-01-05",
    work_title: str = "",
) -> Application:
    app = build_application(
        enterprise,
        creator,
        status,
        submitted=at(submitted) if submitted else None,
        cost="100000.00",
        minutes=60,
        reference=reference,
        work_title=work_title or f"短剧《{reference or '草稿'}》",
        filing_number=f"备案-{reference or uuid.uuid4().hex[:8]}",
        requested_amount=Decimal(requested) if requested else None,
        submitted_at=at(submitted) if submitted else None,
        received_date=dt.date.fromisoformat(received) if received else None,
        approved_at=at(approved) if approved else None,
        granted_amount=Decimal(granted) if granted else None,
        paid_at=at(paid) if paid else None,
        paid_amount=Decimal(granted) if granted and paid else Decimal("0"),
        clawed_back_amount=Decimal(granted) if granted and status == Status.CLAWED_BACK else Decimal("0"),
        policy_version="2026-02-05",
    )
    # auto_now_add ignores a given value; the year a draft belongs to is its creation date.
    Application.objects.filter(pk=app.pk).update(created_at=at(created))
    return app


class ReportFixture(BaseTestCase):
    """Seven 2026 applications, a 2026 draft, a 2025 application, payments, usage and a notice."""

    injected: Enterprise
    other_provider: Provider
    apps: dict[str, Application]

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        from review.models import Level, Payment, ReviewStep, SupplementNotice

        cls.injected = make_enterprise(INJECTION, "91110116755623456M")
        carol = make_user("carol", "applicant", enterprise=cls.injected)
        a, b = cls.enterprise, cls.other_enterprise
        mk = make_application
        cls.apps = {
            # Granted then clawed back on 04-15: submitted Feb, paid 03-01; granted, paid and clawed back.
            "A4": mk(
                a,
                cls.alice,
                status=Status.CLAWED_BACK,
                reference="YD2026-0001",
                submitted="2026-02-10",
                received="2026-02-10",
                requested="10000.00",
                approved="2026-02-20",
                granted="10000.00",
                paid="2026-03-01",
            ),
            # Everything on time: review by 03-16, pay by 04-08, cycle by 04-14.
            "A1": mk(
                a,
                cls.alice,
                status=Status.PAID,
                reference="YD2026-0002",
                submitted="2026-03-02",
                received="2026-03-02",
                requested="12000.00",
                approved="2026-03-10",
                granted="12000.00",
                paid="2026-03-20",
            ),
            # Late without its supplement pause (deadline 03-16), on time with it (11 working days more).
            "B3": mk(
                b,
                cls.bob,
                status=Status.PAID,
                reference="YD2026-0003",
                submitted="2026-03-02",
                received="2026-03-02",
                requested="5000.00",
                approved="2026-03-25",
                granted="5000.00",
                paid="2026-04-10",
            ),
            # Review late (deadline 04-16); approved, unpaid past the payment deadline 05-28: overdue.
            "A2": mk(
                a,
                cls.alice,
                status=Status.APPROVED,
                reference="YD2026-0004",
                submitted="2026-04-01",
                received="2026-04-01",
                requested="15000.00",
                approved="2026-04-28",
                granted="15000.00",
            ),
            # Rejected on 05-12, before the deadline 05-19: on time.
            "B2": mk(
                b,
                cls.bob,
                status=Status.REJECTED,
                reference="YD2026-0005",
                submitted="2026-05-06",
                received="2026-05-06",
                requested="8000.00",
            ),
            # Still in initial review after its deadline 06-15: overdue; cycle (07-14) still open.
            "B1": mk(
                b,
                cls.bob,
                status=Status.INITIAL_REVIEW,
                reference="YD2026-0006",
                submitted="2026-06-01",
                received="2026-06-01",
                requested="20000.00",
            ),
            # Submitted, not yet claimed: taken as received 07-01, deadline 07-15: open.
            "C1": mk(
                cls.injected,
                carol,
                status=Status.SUBMITTED,
                reference="YD2026-0007",
                submitted="2026-07-01",
                requested="26000.00",
                work_title=INJECTION,
            ),
            # A draft created this year: counted by state only.
            "A3": mk(a, cls.alice, status=Status.DRAFT, reference=None, submitted=None, created="2026-06-20"),
            # Last year's: in none of the 2026 figures.
            "E": mk(
                a,
                cls.alice,
                status=Status.PAID,
                reference="YD2025-0001",
                submitted="2025-12-20",
                received="2025-12-22",
                requested="9000.00",
                approved="2025-12-24",
                granted="9000.00",
                paid="2025-12-30",
                created="2025-12-01",
            ),
        }
        for key, day in (
            ("A4", "2026-03-01"),
            ("A1", "2026-03-20"),
            ("B3", "2026-04-10"),
            ("E", "2025-12-30"),
        ):
            app = cls.apps[key]
            assert app.granted_amount is not None
            Payment.objects.create(
                application=app,
                date=dt.date.fromisoformat(day),
                amount=app.granted_amount,
                granted_amount=app.granted_amount,
                bank_reference=f"BANK-{key}",
                recorded_by=cls.finance,
            )
        from audits.models import Clawback, Repayment

        # A4's clawback of 04-15, repaid 4,000.00 on 05-10: 6,000.00 still outstanding.
        claw = Clawback.objects.create(
            application=cls.apps["A4"],
            amount=Decimal("10000.00"),
            repaid=Decimal("4000.00"),
            status=Clawback.Status.PARTIALLY_REPAID,
            reason="虚报算力成本",
            created_by=cls.inspector,
        )
        Clawback.objects.filter(pk=claw.pk).update(created_at=at("2026-04-15"))
        Repayment.objects.create(
            clawback=claw,
            amount=Decimal("4000.00"),
            date=dt.date(2026, 5, 10),
            reference="BANK-R1",
            recorded_by=cls.finance,
        )
        Application.objects.filter(pk=cls.apps["A4"].pk).update(repaid_amount=Decimal("4000.00"))
        SupplementNotice.objects.create(
            application=cls.apps["B3"],
            round=1,
            notice_date=dt.date(2026, 3, 5),
            resubmitted_date=dt.date(2026, 3, 20),
            created_by=cls.reviewer,
        )
        ReviewStep.objects.create(
            application=cls.apps["B2"],
            transition="reject_initial",
            level=Level.INITIAL,
            actor=cls.reviewer,
            at=at("2026-05-12"),
            status_before=Status.INITIAL_REVIEW,
            status_after=Status.REJECTED,
        )
        cls.other_provider = Provider.objects.create(
            name="=cmd|' /C calc'!A0", status=Provider.Status.APPROVED
        )
        cls.make_usage(cls.provider, "text2video", "2026-03-03", 7200, "100.00", leaf=0)
        cls.make_usage(cls.provider, "render", "2026-03-04", 3600, "50.00", leaf=1)
        cls.make_usage(cls.other_provider, "text2video", "2026-05-01", 1800, "20.00", leaf=2)
        cls.make_usage(cls.provider, "voice", "2025-11-01", 3600, "30.00", leaf=3)

    @classmethod
    def make_usage(
        cls, provider: Provider, scenario: str, day: str, seconds: int, cost: str, *, leaf: int
    ) -> None:
        from monitoring.models import UsageBatch, UsageRecord

        batch = UsageBatch.objects.create(
            provider=provider, received_at=at(day), source=UsageBatch.Source.API, total=1, accepted=1
        )
        UsageRecord.objects.create(
            record_id=uuid.uuid4(),
            batch=batch,
            provider=provider,
            node_name="hz-gpu-001",
            enterprise_uscc=cls.enterprise.uscc,
            enterprise=cls.enterprise,
            work_ref="备案-YD2026-0002",
            scenario=scenario,
            gpu_model="NVIDIA H200",
            gpu_uuid=f"GPU-{leaf}",
            gpu_count=1,
            started_at=at(day),
            ended_at=at(day) + dt.timedelta(seconds=seconds),
            gpu_seconds=seconds,
            avg_util_pct=80.0,
            max_mem_mib=80000,
            energy_wh=500.0,
            cost_cny=Decimal(cost),
            leaf_index=leaf,
            entry_sha256="0" * 64,
            received_at=at(day),
        )
