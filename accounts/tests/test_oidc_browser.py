"""A real browser signs an enterprise user and a staff member in through the test OpenID provider."""

from __future__ import annotations

import re
from typing import Any

import pytest

from accounts.actions import assign_roles
from accounts.models import User
from accounts.roles import Role
from accounts.tests.conftest import IDP_PASSWORD, IdentityProvider
from testing.browser import screenshot, signed_in_username
from testing.fixtures import USCC_A, make_enterprise, make_user


def sign_in(page: Any, username: str) -> None:
    page.goto("/accounts/login/")
    page.click("#oidc-login a")
    page.wait_for_selector("#idp-username")
    page.fill("#idp-username", username)
    page.fill("#idp-password", IDP_PASSWORD)
    page.click("#idp-submit")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_signs_an_enterprise_user_and_a_staff_member_in_through_the_identity_provider(
    browser: Any, browser_page: Any, live_server: Any, oidc: IdentityProvider, settings: Any
) -> None:
    settings.STAFF_MFA_REQUIRED = True
    settings.OIDC_PROVIDER_MFA = True
    enterprise = make_enterprise("北京影都智造文化传媒有限公司", USCC_A)

    sign_in(browser_page, "zhangsan")
    browser_page.wait_for_url(re.compile(r"/workbench/|/applications/|/$"))
    assert signed_in_username(browser_page) == "zhangsan"
    browser_page.goto(f"/enterprises/{enterprise.pk}/")
    assert "张三（zhangsan）" in browser_page.inner_text("main")  # the legal representative's account
    screenshot(browser_page, "accounts/oidc-enterprise")

    # A staff member: refused until the security administrator gives a role, then signed in
    # with the provider's second factor. A new browser context: no provider session carried over.
    context = browser.new_context(base_url=live_server.url, locale="zh-CN")
    try:
        staff_page = context.new_page()
        sign_in(staff_page, "chen")
        staff_page.wait_for_selector("#oidc-error")
        assert "尚未由安全管理员分配角色" in staff_page.inner_text("#oidc-error")
        assign_roles(
            User.objects.get(username="chen"), [Role.REVIEWER], actor=make_user("sec", Role.SECADMIN)
        )
        staff_page.goto("/login/oidc/")  # the provider remembers chen: straight back
        staff_page.wait_for_url(re.compile(r"/workbench/"))
        assert "/accounts/otp/" not in staff_page.url
        assert signed_in_username(staff_page) == "chen"
        screenshot(staff_page, "accounts/oidc-staff")
    finally:
        context.close()
