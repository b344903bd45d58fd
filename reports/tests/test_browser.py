from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from accounts.roles import Role
from applications.states import Status
from reports.tests.fixtures import make_application
from review.models import Payment
from yingdu.browser import force_login, screenshot
from yingdu.test import make_enterprise, make_user


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_dashboard_draws_its_charts_under_the_csp(browser_page: Any) -> None:
    applicant = make_user("chart-applicant", Role.APPLICANT, enterprise=make_enterprise())
    assert applicant.enterprise is not None
    app = make_application(
        applicant.enterprise,
        applicant,
        status=Status.PAID,
        reference="YD2026-0101",
        submitted="2026-03-02",
        received="2026-03-02",
        requested="12000.00",
        approved="2026-03-10",
        granted="12000.00",
        paid="2026-03-20",
    )
    Payment.objects.create(
        application=app,
        date=dt.date(2026, 3, 20),
        amount=Decimal("12000.00"),
        granted_amount=Decimal("12000.00"),
        bank_reference="BANK-1",
        recorded_by=make_user("chart-finance", Role.FINANCE),
    )
    problems: list[str] = []
    # CSP violations and script errors show up as console errors; missing files as 4xx responses
    # (the browser's own favicon request is not the page's).
    browser_page.on(
        "console",
        lambda m: (
            problems.append(m.text) if m.type == "error" and "Failed to load resource" not in m.text else None
        ),
    )
    browser_page.on("pageerror", lambda e: problems.append(str(e)))
    browser_page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}") if r.status >= 400 and "favicon" not in r.url else None
        ),
    )
    force_login(browser_page, make_user("chart-head", Role.HEAD, display_name="主管领导"))
    browser_page.goto("/reports/?year=2026")
    for chart in ("chart-states", "chart-monthly-counts", "chart-amounts", "chart-compliance"):
        browser_page.wait_for_selector(f"#{chart} canvas")
    assert problems == []
    screenshot(browser_page, "reports/dashboard")
