"""Benchmark of the review workbench (issue 5): the queue page over many applications in review.

    .venv/bin/python bench/review_workbench.py                      # SQLite scratch database
    DATABASE_URL=postgres://… .venv/bin/python bench/review_workbench.py --applications 5000

A scratch test database is created, migrated and filled with ``--applications`` applications in
the review states (a fifth of them waiting for a supplement, each of those with a notice). The
page computes every application's working-day clock in Python to sort the queue by deadline, so
it prints:

- the baseline: reading the same application rows and their notices (two queries);
- the workbench page (``GET /review/?queue=all``) as a reviewer, its query count, and the ratio.

Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yingdu.settings")
os.environ.setdefault("YINGDU_ENV", "test")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

TZ = dt.timezone(dt.timedelta(hours=8))
STATES = ["submitted", "initial_review", "supplement_requested", "re_review", "final_approval"]


def timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def fill(n: int) -> Any:
    from accounts.models import User
    from accounts.roles import Role
    from applications.models import Application
    from enterprises.models import Enterprise
    from review.models import SupplementNotice
    from testing.fixtures import make_user, valid_uscc

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    reviewer = make_user("bench-reviewer", Role.REVIEWER)
    owner = User.objects.create_user(username="bench-owner")
    enterprises = Enterprise.objects.bulk_create(
        [
            Enterprise(
                name=f"基准企业{i}",
                uscc=valid_uscc(700000 + i),
                registered_address="怀柔",
                operating_address="怀柔",
                legal_rep_name="张三",
                legal_rep_phone="+8613800138000",
                handler_name="李四",
                handler_phone="+8613900139000",
                handler_email="b@example.cn",
                status="verified",
            )
            for i in range(200)
        ]
    )
    apps = []
    for i in range(n):
        submitted = dt.datetime(2026, 3, 2, 9, tzinfo=TZ) + dt.timedelta(hours=i % 400)
        apps.append(
            Application(
                reference=f"YD2026-{i + 1:06d}",
                enterprise=enterprises[i % len(enterprises)],
                created_by=owner,
                status=STATES[i % len(STATES)],
                enterprise_name=f"基准企业{i % 200}",
                work_title=f"基准短剧{i}",
                filing_number=f"BENCH-{i:06d}",
                work_minutes=100,
                compute_minutes=100,
                total_compute_cost=Decimal("50000.00"),
                requested_amount=Decimal("15000.00"),
                submitted_at=submitted,
                received_date=submitted.date(),
            )
        )
    apps = Application.objects.bulk_create(apps, batch_size=1000)
    SupplementNotice.objects.bulk_create(
        [
            SupplementNotice(
                application=a,
                round=1,
                notice_date=(a.received_date or dt.date(2026, 3, 2)) + dt.timedelta(days=2),
                created_by=reviewer,
            )
            for a in apps
            if a.status == "supplement_requested"
        ],
        batch_size=1000,
    )
    return reviewer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applications", type=int, default=5000)
    args = parser.parse_args()

    import time_machine
    from django.test import Client

    from applications.models import Application
    from review.models import SupplementNotice

    setup_test_environment()
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = f"bench_review_{os.getpid()}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        with time_machine.travel(dt.datetime(2026, 3, 20, 10, tzinfo=TZ), tick=False):
            start = time.perf_counter()
            reviewer = fill(args.applications)
            print(
                f"filled {args.applications} applications on {connection.vendor} in {time.perf_counter() - start:.1f} s"
            )
            client = Client()
            client.force_login(reviewer)
            client.get("/review/?queue=all")  # warm the calendar and parameter caches

            base, _ = timed(lambda: (list(Application.objects.all()), list(SupplementNotice.objects.all())))
            with CaptureQueriesContext(connection) as ctx:
                client.get("/review/?queue=all")
            queries = len(ctx.captured_queries)
            page, response = timed(lambda: client.get("/review/?queue=all"))
            assert response.status_code == 200
            print(f"baseline: read {args.applications} applications and their notices: {base * 1000:.0f} ms")
            print(
                f"workbench (queue=all, sorted by deadline): {page * 1000:.0f} ms, {queries} queries, "
                f"ratio to baseline {page / base:.1f}x"
            )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
