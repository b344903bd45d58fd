"""好差评 in a real browser on a 375 px phone: the enterprise rates its ended case from the application
page, the approver answers the follow-up; axe-core finds no serious violation on any of the pages."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.roles import Role
from applications.states import Status
from review.models import RatingFollowUp
from testing.browser import PHONE, axe_source, axe_violations, force_login
from testing.fixtures import make_application, make_enterprise, make_user


def check(page: Any, axe: str, problems: list[str]) -> None:
    width = int(page.evaluate("document.documentElement.scrollWidth"))
    if width > PHONE["width"]:
        problems.append(f"{page.url}: scrolls sideways ({width}px)")
    problems.extend(f"{page.url}: {v}" for v in axe_violations(page, axe))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_rates_a_case_and_answers_the_follow_up_on_a_phone(new_page: Any) -> None:
    enterprise = make_enterprise()
    alice = make_user("alice", Role.APPLICANT, enterprise=enterprise)
    approver = make_user("approver", Role.APPROVER)
    app = make_application(enterprise, alice, Status.REJECTED)
    axe = axe_source()
    problems: list[str] = []
    page = new_page(viewport=PHONE, bypass_csp=True)
    force_login(page, alice)
    page.goto(f"/applications/{app.pk}/")
    page.click("#rate-link")
    page.wait_for_selector("#rating-form")
    check(page, axe, problems)
    for name, level in (
        ("guidance", 3),
        ("convenience", 2),
        ("efficiency", 1),
        ("attitude", 3),
        ("overall", 2),
    ):
        page.check(f"input[name={name}][value='{level}']")
    page.fill("textarea[name=comment]", "审核时间较长")
    with page.expect_navigation():
        page.click("#submit-rating")
    assert page.locator("#rating-overall").inner_text() == "不满意"
    assert "前回访并书面答复" in page.locator("#follow-up-open").inner_text()
    check(page, axe, problems)

    page = new_page(viewport=PHONE, bypass_csp=True)  # the approver in a browser of their own
    force_login(page, approver)
    page.goto("/workbench/")
    page.click("text=待办差评回访")
    assert app.reference in page.locator("#follow-ups").inner_text()
    check(page, axe, problems)
    page.click(f"text={app.reference}")
    page.wait_for_selector("#close-form")
    check(page, axe, problems)
    page.fill("textarea[name=response]", "已电话回访，今后在受理时说明审核时限")
    with page.expect_navigation():
        page.click("#close-follow-up")
    assert RatingFollowUp.objects.get().status == RatingFollowUp.Status.CLOSED
    assert not problems, "\n".join(problems)
