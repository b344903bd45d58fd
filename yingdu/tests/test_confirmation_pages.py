"""The confirmation pages and the provider's upload pages in a real browser: a withdrawal is confirmed
without JavaScript; the withdrawal, rejection and blacklist confirmations, the supplement preview and
the upload and batch pages have no serious axe violation and do not scroll sideways at 375 px."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from accounts.roles import Role
from applications.models import Application
from applications.states import Status
from enterprises.models import Provider
from monitoring.models import Node, UsageRecord
from monitoring.uploads import template_csv
from review import actions as review_actions
from testing.browser import PHONE, axe_source, axe_violations, force_login
from testing.fixtures import make_application, make_enterprise, make_user


def _check(page: Any, axe: str, problems: list[str]) -> None:
    width = int(page.evaluate("document.documentElement.scrollWidth"))
    if width > PHONE["width"]:
        problems.append(f"{page.url}: scrolls sideways ({width}px)")
    problems.extend(f"{page.url}: {v}" for v in axe_violations(page, axe))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_confirms_without_javascript_and_every_confirmation_page_is_accessible_on_a_phone(
    new_page: Any, tmp_path: Any
) -> None:
    enterprise = make_enterprise()
    other = make_enterprise("北京怀柔光影文化有限公司")
    alice = make_user("alice", Role.APPLICANT, enterprise=enterprise)
    reviewer = make_user("reviewer", Role.REVIEWER, display_name="审核员")
    inspector = make_user("inspector", Role.INSPECTOR, display_name="稽查员")
    withdrawn = make_application(enterprise, alice, Status.SUBMITTED)
    rejected = make_application(enterprise, alice, Status.SUBMITTED)
    review_actions.claim_application(rejected, actor=reviewer)
    provider = Provider.objects.create(name="怀柔智算中心", status=Provider.Status.APPROVED)
    supplier = make_user("provider", Role.PROVIDER, provider=provider)
    Node.objects.create(provider=provider, node_id="hz-gpu-001", public_key="A" * 43 + "=")
    axe = axe_source()
    problems: list[str] = []

    # Without JavaScript: the applicant withdraws through the confirmation page, giving a reason.
    page = new_page(viewport=PHONE, bypass_csp=True, java_script_enabled=False)
    force_login(page, alice)
    page.goto(reverse("applications:detail", args=[withdrawn.pk]))
    with page.expect_navigation():
        page.click("#withdraw-link")
    assert "撤回后本申请不再办理" in page.inner_text("#consequence")
    page.check("text=项目取消")
    with page.expect_navigation():
        page.click("#confirm-button")
    assert Application.objects.get(pk=withdrawn.pk).status == Status.WITHDRAWN

    # Each identity on a phone of its own.
    page = new_page(viewport=PHONE, bypass_csp=True)
    force_login(page, alice)
    page.goto(reverse("applications:withdraw", args=[rejected.pk]))
    _check(page, axe, problems)

    page = new_page(viewport=PHONE, bypass_csp=True)
    force_login(page, reviewer)
    page.goto(reverse("review:detail", args=[rejected.pk]))
    page.fill("#id_opinion", "作品未上线")
    with page.expect_navigation():
        page.click("#do-reject_initial")
    assert "此操作不能撤销" in page.inner_text("#consequence")
    _check(page, axe, problems)
    page.goto(reverse("review:detail", args=[rejected.pk]))
    page.check("input[name=items][value='material:usage_log']")
    page.fill("input[name='text:material:usage_log']", "日志缺少3月2日的记录")
    with page.expect_navigation():
        page.click("#send-supplement")
    assert "日志缺少3月2日的记录" in page.inner_text("#supplement-preview")
    _check(page, axe, problems)

    page = new_page(viewport=PHONE, bypass_csp=True)
    force_login(page, inspector)
    page.goto(reverse("audits:blacklist"))
    page.select_option("#id_enterprise", str(other.pk))
    page.fill("#id_reason", "虚报算力消耗")
    with page.expect_navigation():
        page.click("#blacklist-form button[type=submit]")
    assert "不能再提交补贴申报" in page.inner_text("#consequence")
    _check(page, axe, problems)

    # The provider uploads the template with one more row naming an unknown node.
    page = new_page(viewport=PHONE, bypass_csp=True)
    force_login(page, supplier)
    page.goto(reverse("monitoring:upload"))
    _check(page, axe, problems)
    text = template_csv(provider).decode("utf-8-sig").replace("\r\n", "\n")
    stray = text.splitlines()[1].replace("hz-gpu-001", "gpu-unknown").replace("job-20260301-001", "job-9")
    path = tmp_path / "usage.csv"
    path.write_text(text + stray + "\n", encoding="utf-8")
    page.set_input_files("#id_file", str(path))
    with page.expect_navigation():
        page.click("#upload-form button[type=submit]")
    assert page.inner_text("#accepted") == "1 条"
    assert "第3行" in page.inner_text("#rejections") and "job-9" in page.inner_text("#rejections")
    _check(page, axe, problems)
    assert UsageRecord.objects.filter(provider=provider).count() == 1
    assert not problems, "\n".join(problems)
