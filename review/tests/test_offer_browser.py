"""达标即享 in a real browser on a 375 px phone: the enterprise opens the offer pushed at launch, accepts it
and confirms; axe-core finds no serious violation on any of the pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from accounts.roles import Role
from applications.models import Application, Offer
from applications.states import Status
from applications.tests.factories import checked
from applications.works import register_work, verify_filing
from audits.tests.fixtures import Monitoring
from enterprises.models import LicenceVersion, Provider
from review import offers
from review.tests.test_rating_browser import check
from testing.browser import PHONE, axe_source, force_login
from testing.fixtures import make_enterprise, make_user, png_bytes


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_enterprise_accepts_an_offer_on_a_phone(browser: Any, live_server: Any) -> None:
    enterprise = make_enterprise()
    rep = make_user("rep", Role.APPLICANT, enterprise=enterprise, display_name="周明远")
    reviewer = make_user("reviewer", Role.REVIEWER, display_name="初审员")
    now = timezone.now()
    LicenceVersion.objects.create(
        enterprise=enterprise, version=1, file="licences/x.pdf", sha256="0" * 64, mime="application/pdf",
        original_name="营业执照.pdf", status=LicenceVersion.Status.VERIFIED, uploaded_at=now, verified_at=now,
        verified_by=reviewer,
    )  # fmt: skip
    provider = Provider.objects.create(name="怀柔智算中心", status=Provider.Status.APPROVED)
    work = register_work(actor=rep, title="龙城夜雨", expected_filing_number="京剧备字2026-0888")
    today = timezone.localdate()
    Monitoring(provider).hours(
        enterprise.uscc, work.reference or "", now - dt.timedelta(days=20), 2, cost="100.00"
    )
    offer = offers.record_launch(
        work, actor=rep, launch_date=today - dt.timedelta(days=2), platforms="红果短剧",
        play_url="https://example.cn/play/1", filing_number="京剧备字2026-0888", work_minutes=30,
        screenshot=checked("上线截图.png", png_bytes()),
    )  # fmt: skip
    verify_filing(work, actor=reviewer)

    axe = axe_source()
    problems: list[str] = []
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, locale="zh-CN", bypass_csp=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        force_login(page, rep)
        page.goto("/review/works/")
        check(page, axe, problems)
        page.goto(f"/review/offers/{offer.pk}/")
        assert "200.00" in page.locator("#offer-summary").inner_text()
        check(page, axe, problems)
        with page.expect_navigation():
            page.click("#accept-offer")
        page.wait_for_selector("#confirm-offer")
        check(page, axe, problems)
        with page.expect_navigation():
            page.click("#confirm-offer")
        assert "已提交" in page.locator("#offer-application").inner_text()
        check(page, axe, problems)
    finally:
        context.close()
    application = Offer.objects.get(pk=offer.pk).application
    assert application is not None
    assert Application.objects.get(pk=application.pk).status == Status.SUBMITTED
    assert not problems, "\n".join(problems)
