"""Benchmark of the center's dashboard and yearly workbook (docs/reports.md) on a full year of data.

    .venv/bin/python bench/dashboard.py                       # SQLite scratch database
    DATABASE_URL=postgres://… .venv/bin/python bench/dashboard.py --applications 10000

A scratch test database is created (and dropped afterwards) and filled with ``--applications``
applications spread over 2026 — a third paid with a payment record, some waiting for a
supplement, some rejected — and 10 usage records per application. It prints:

- the time of ``reports.queries.dashboard(2026)`` and the number of queries it ran;
- the time of ``reports.exports.build_workbook(2026)``;
- the baseline: reading the same applications' rows once with the ORM (``values_list``),
  and the ratio of each figure to it.

Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yingdu.settings")
os.environ.setdefault("YINGDU_ENV", "test")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

T = TypeVar("T")
TZ = dt.timezone(dt.timedelta(hours=8))


def fill(n: int) -> None:
    from accounts.models import User
    from applications.models import Application
    from applications.states import Status
    from enterprises.models import Enterprise, Provider
    from monitoring.models import UsageBatch, UsageRecord
    from review.models import Payment, SupplementNotice
    from testing.fixtures import valid_uscc

    staff = User.objects.create_user(username="bench-staff")
    provider = Provider.objects.create(name="怀柔智算中心", status=Provider.Status.APPROVED)
    enterprises = Enterprise.objects.bulk_create(
        Enterprise(name=f"基准企业{i}", uscc=valid_uscc(i + 1), status=Enterprise.Status.VERIFIED)
        for i in range(200)
    )
    cycle = [
        Status.PAID,
        Status.PAID,
        Status.APPROVED,
        Status.INITIAL_REVIEW,
        Status.REJECTED,
        Status.SUBMITTED,
    ]
    apps: list[Application] = []
    facts: list[tuple[dt.date, dt.datetime, dt.datetime | None]] = []  # received, submitted, paid
    grant = Decimal("12000.00")
    for i in range(n):
        status = cycle[i % len(cycle)]
        day = dt.date(2026, 2, 9) + dt.timedelta(days=(i * 290) // n)
        submitted = dt.datetime.combine(day, dt.time(10), tzinfo=TZ)
        approved = submitted + dt.timedelta(days=12) if status in (Status.PAID, Status.APPROVED) else None
        paid = approved + dt.timedelta(days=10) if approved is not None and status == Status.PAID else None
        facts.append((day, submitted, paid))
        apps.append(
            Application(
                enterprise=enterprises[i % len(enterprises)],
                created_by=staff,
                status=status,
                reference=f"YD2026-{i:06d}",
                enterprise_name=f"基准企业{i % len(enterprises)}",
                filing_number=f"F{i:07d}",
                requested_amount=grant,
                submitted_at=submitted,
                received_date=day,
                approved_at=approved,
                granted_amount=grant if approved else None,
                paid_at=paid,
            )
        )
    apps = Application.objects.bulk_create(apps, batch_size=2000)
    Payment.objects.bulk_create(
        (
            Payment(
                application=a,
                date=paid.date(),
                amount=grant,
                granted_amount=grant,
                bank_reference=f"B{a.pk}",
                recorded_by=staff,
            )
            for a, (_day, _submitted, paid) in zip(apps, facts, strict=True)
            if paid is not None
        ),
        batch_size=2000,
    )
    SupplementNotice.objects.bulk_create(
        (
            SupplementNotice(
                application=a,
                round=1,
                notice_date=day + dt.timedelta(days=2),
                resubmitted_date=day + dt.timedelta(days=6),
                created_by=staff,
            )
            for a, (day, _submitted, _paid) in list(zip(apps, facts, strict=True))[::7]
        ),
        batch_size=2000,
    )
    batch = UsageBatch.objects.create(provider=provider, received_at=facts[0][1], source="api")
    records = []
    for i, (a, (_day, submitted, _paid)) in enumerate(zip(apps, facts, strict=True)):
        for j in range(10):
            start = submitted - dt.timedelta(days=5, hours=j)
            records.append(
                UsageRecord(
                    record_id=uuid.uuid4(),
                    batch=batch,
                    provider=provider,
                    node_name="hz-gpu-001",
                    enterprise_uscc=a.enterprise.uscc,
                    work_ref=a.filing_number,
                    scenario=["text2video", "render", "voice"][j % 3],
                    gpu_model="NVIDIA H200",
                    gpu_uuid=f"GPU-{i}-{j}",
                    gpu_count=1,
                    started_at=start,
                    ended_at=start + dt.timedelta(hours=1),
                    gpu_seconds=3600,
                    avg_util_pct=80,
                    max_mem_mib=80000,
                    energy_wh=600,
                    cost_cny=Decimal("32.50"),
                    leaf_index=i * 10 + j,
                    entry_sha256="0" * 64,
                    received_at=start,
                )
            )
    UsageRecord.objects.bulk_create(records, batch_size=5000)


def timed(fn: Callable[[], T], repeat: int = 3) -> tuple[float, T]:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applications", type=int, default=10_000)
    args = parser.parse_args()

    from applications.models import Application
    from reports import queries
    from reports.exports import build_workbook

    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = f"bench_reports_{os.getpid()}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        start = time.perf_counter()
        fill(args.applications)
        print(
            f"filled {args.applications} applications on {connection.vendor} in {time.perf_counter() - start:.1f} s"
        )
        today = dt.date(2026, 11, 30)
        queries.dashboard(2026, today)  # warm caches (calendar, parameters)

        base, _ = timed(
            lambda: list(
                Application.objects.filter(submitted_at__year=2026).values_list(
                    "id", "status", "submitted_at", "received_date", "approved_at", "granted_amount"
                )
            )
        )
        with CaptureQueriesContext(connection) as ctx:
            dash, data = timed(lambda: queries.dashboard(2026, today), repeat=1)
        dash, _ = timed(lambda: queries.dashboard(2026, today))
        book, (content, rows) = timed(lambda: build_workbook(2026, today), repeat=1)
        print(f"baseline: read {args.applications} application rows: {base * 1000:.0f} ms")
        print(
            f"dashboard(2026): {dash * 1000:.0f} ms, {len(ctx)} queries, ratio to baseline {dash / base:.1f}x"
        )
        print(
            f"build_workbook(2026): {book * 1000:.0f} ms (target ≤ 1500 ms), {len(content) / 1024:.0f} KiB, "
            f"ratio {book / base:.1f}x"
        )
        print(f"sheet rows: {rows}")
        assert data["totals"]["submitted"] == args.applications
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
