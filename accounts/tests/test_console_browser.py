"""The three administrators at work in a real browser: each does their duty end to end, and
each is refused the duties of the other two."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from accounts.actions import assign_roles, create_account
from accounts.models import User
from accounts.roles import Role
from testing.browser import login, screenshot
from testing.fixtures import make_user

SHOTS = "accounts/console"
INITIAL = "Yd-Initial-Passw0rd!"  # noqa: S105 - test fixture


def submit_login(page: Any, username: str, password: str) -> None:
    """Post the login form and wait for the answer (a refusal stays on the login page)."""
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("form button[type=submit]")


def _admins() -> dict[str, User]:
    return {
        "sysadmin": make_user("sys", Role.SYSADMIN, display_name="系统管理员甲"),
        "secadmin": make_user("sec", Role.SECADMIN, display_name="安全管理员乙"),
        "auditadmin": make_user("aud", Role.AUDITADMIN, display_name="审计管理员丙"),
    }


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_lets_the_sysadmin_create_a_reviewer_account_and_disable_it(browser_page: Any) -> None:
    page = browser_page
    admins = _admins()
    login(page, admins["sysadmin"])
    page.click("text=管理控制台")
    page.click(".grid >> text=创建账号")
    page.fill("#id_username", "zhaoliu")
    page.fill("#id_display_name", "赵六")
    page.fill("#id_email", "zhaoliu@example.cn")
    page.fill("#id_password1", INITIAL)
    page.fill("#id_password2", INITIAL)
    page.click("form button[type=submit] >> text=创建账号")
    assert "已创建账号“zhaoliu”" in page.inner_text(".messages")
    assert page.inner_text("#account-roles") == "未分配角色"
    screenshot(page, f"{SHOTS}/sysadmin-created")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("text=停用账号")
    assert page.inner_text("#account-state") == "已停用"
    assert not User.objects.get(username="zhaoliu").is_active
    page.click("text=启用账号")
    assert page.inner_text("#account-state") == "启用"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_lets_the_secadmin_give_a_role_set_the_lockout_and_unlock(new_page: Any) -> None:
    page = new_page()
    admins = _admins()
    create_account(username="zhaoliu", password=INITIAL, display_name="赵六", actor=admins["sysadmin"])
    login(page, admins["secadmin"])
    page.goto("/console/")
    page.click(".grid >> text=角色分配")
    page.fill("#q", "zhaoliu")
    page.click("form[role=search] button")
    page.click("table a:has-text('分配角色')")
    screenshot(page, f"{SHOTS}/secadmin-account")
    page.check("input[name=roles][value=reviewer]")
    page.click("text=保存角色")
    assert page.inner_text("#account-roles") == "初审人员"

    page.goto("/console/security/")
    page.fill("#id_lockout_failure_limit", "3")
    page.click("text=保存安全策略")
    assert "连续 3 次失败" in page.inner_text("#effective-policy")

    # The new reviewer mistypes the password three times in another browser.
    them = new_page()
    for _ in range(3):
        submit_login(them, "zhaoliu", "wrong-password")
    submit_login(them, "zhaoliu", INITIAL)
    assert "账号已锁定" in them.content()

    page.goto("/console/lockouts/")
    assert "zhaoliu" in page.inner_text("table")
    screenshot(page, f"{SHOTS}/secadmin-lockouts")
    page.click("button[aria-label='解除锁定：zhaoliu']")
    assert "已解除“zhaoliu”的登录锁定" in page.inner_text(".messages")

    login(them, "zhaoliu", INITIAL)
    assert "/accounts/password/" in them.url  # the initial password must be changed first


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_lets_the_auditadmin_find_the_role_change_and_export_it(browser_page: Any) -> None:
    page = browser_page
    admins = _admins()
    user = create_account(username="zhaoliu", password=INITIAL, display_name="赵六", actor=admins["sysadmin"])
    assign_roles(user, [Role.REVIEWER], actor=admins["secadmin"])
    today = timezone.localdate()
    login(page, admins["auditadmin"])
    page.goto("/console/")
    page.click(".grid >> text=审计日志")
    page.fill("#id_person", "安全管理员乙")
    page.select_option("#id_role", Role.SECADMIN)
    page.select_option("#id_action", "accounts.roles_changed")
    page.fill("#id_obj", "zhaoliu")
    page.fill("#id_date_from", (today - dt.timedelta(days=1)).isoformat())
    page.fill("#id_date_to", today.isoformat())
    page.click("text=检索")
    rows = page.locator("#audit-table tbody tr")
    assert rows.count() == 1
    text = rows.first.inner_text()
    assert "分配角色" in text and "安全管理员乙" in text and "初审人员" in text
    assert "年" in text and "T" not in text.split("\t")[1]  # Chinese date, not ISO
    screenshot(page, f"{SHOTS}/auditadmin-search")
    with page.expect_download() as info:
        page.click("text=导出 Excel")
    assert info.value.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes())).active
    assert sheet is not None
    values = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(values) == 1 and values[0][5] == "分配角色" and values[0][3] == "sec"

    # Reviewing the other two administrators' own actions shows both.
    page.goto("/console/")
    page.click(".grid >> text=管理员操作审查")
    table = page.inner_text("#audit-table")
    assert "创建账号" in table and "分配角色" in table


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_refuses_each_administrator_the_duties_of_the_other_two(new_page: Any) -> None:
    admins = _admins()
    target = make_user("finance1", Role.FINANCE)
    duties = {
        "sysadmin": "/console/accounts/new/",
        "secadmin": "/console/security/",
        "auditadmin": "/console/audit/",
    }
    for who, user in admins.items():
        page = new_page()  # each administrator in a browser of their own
        login(page, user)
        for owner, url in duties.items():
            page.goto(url)
            refused = "无权访问" in page.title()
            assert refused == (owner != who), (who, url)
        page.goto(f"/console/accounts/{target.pk}/")
        buttons = page.inner_text("main")
        assert ("停用账号" in buttons) == (who == "sysadmin")
        assert ("保存角色" in buttons) == (who == "secadmin")
