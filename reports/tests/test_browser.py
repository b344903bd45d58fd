from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from accounts.roles import Role
from applications.states import Status
from reports.tests.fixtures import make_application
from review.models import Payment
from testing.browser import force_login, screenshot
from testing.fixtures import make_enterprise, make_user


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


# The drawn boxes (in chart pixels) of the texts reading "GPU小时", and the chart's size.
AXIS_NAME_BOXES = """id => {
  const chart = echarts.getInstanceByDom(document.getElementById(id));
  const out = [];
  chart.getZr().storage.getDisplayList().forEach(e => {
    if (e.style && e.style.text === 'GPU小时') {
      const r = e.getBoundingRect().clone();
      if (e.transform) { r.applyTransform(e.transform); }
      out.push([r.x, r.y, r.width, r.height, chart.getWidth(), chart.getHeight()]);
    }
  });
  return out;
}"""
INJECTED_NAME = "<img src=x onerror=window.__injected=1>怀柔算力"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_shows_a_provider_name_in_the_tooltip_as_text_not_markup(browser_page: Any) -> None:
    import uuid

    from enterprises.models import Provider
    from monitoring.models import UsageBatch, UsageRecord
    from reports.tests.fixtures import at

    enterprise = make_enterprise()
    provider = Provider.objects.create(name=INJECTED_NAME, status=Provider.Status.APPROVED)
    batch = UsageBatch.objects.create(
        provider=provider, received_at=at("2026-03-03"), source=UsageBatch.Source.API, total=1, accepted=1
    )
    UsageRecord.objects.create(
        record_id=uuid.uuid4(),
        batch=batch,
        provider=provider,
        node_name="hz-gpu-001",
        enterprise_uscc=enterprise.uscc,
        enterprise=enterprise,
        work_ref="备案-1",
        scenario="text2video",
        gpu_model="NVIDIA H200",
        gpu_uuid="GPU-0",
        gpu_count=1,
        started_at=at("2026-03-03"),
        ended_at=at("2026-03-03") + dt.timedelta(hours=2),
        gpu_seconds=7200,
        avg_util_pct=80.0,
        max_mem_mib=80000,
        energy_wh=500.0,
        cost_cny=Decimal("100.00"),
        leaf_index=0,
        entry_sha256="0" * 64,
        received_at=at("2026-03-03"),
    )
    force_login(browser_page, make_user("chart-head", Role.HEAD, display_name="主管领导"))
    browser_page.goto("/reports/?year=2026")
    chart = browser_page.wait_for_selector("#chart-providers canvas")
    # The GPU-hour axis name is drawn whole inside the chart (at the axis end it was cut).
    boxes = browser_page.evaluate(AXIS_NAME_BOXES, "chart-providers")
    assert len(boxes) == 1, boxes
    x, y, width, height, chart_width, chart_height = boxes[0]
    assert x >= 0 and x + width <= chart_width and y >= 0 and y + height <= chart_height, boxes
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    assert box is not None
    # Hovering over the bar band opens the axis tooltip, which ECharts renders as HTML.
    browser_page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] / 2)
    tooltip = browser_page.wait_for_function(
        "() => Array.from(document.querySelectorAll('#chart-providers div'))"
        ".find(d => d.innerText && d.innerText.includes('怀柔算力'))"
    )
    assert "<img src=x" in tooltip.evaluate("d => d.innerText")
    assert browser_page.evaluate("document.querySelectorAll('#chart-providers img').length") == 0
    assert browser_page.evaluate("window.__injected") is None
    screenshot(browser_page, "reports/dashboard-escaped-tooltip")
