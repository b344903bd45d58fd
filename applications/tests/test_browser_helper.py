from __future__ import annotations

from typing import Any

import pytest

from accounts.roles import Role
from testing.browser import force_login, login, screenshot
from testing.fixtures import make_enterprise, make_user


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_browser_signs_in_through_the_login_form(browser_page: Any) -> None:
    user = make_user("helper", Role.APPLICANT, enterprise=make_enterprise())
    login(browser_page, user)
    assert "/accounts/login/" not in browser_page.url
    assert browser_page.locator(".who").inner_text() == str(user)
    assert screenshot(browser_page, "browser/login").exists()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_force_login_puts_a_session_into_the_page(browser_page: Any) -> None:
    user = make_user("helper2", Role.REVIEWER, display_name="初审员")
    force_login(browser_page, user)
    browser_page.goto("/workbench/")
    assert browser_page.locator(".who").inner_text() == "初审员"
