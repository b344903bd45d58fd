"""At a 375 px phone viewport every list reads: no table cell is narrower than its longest word
(no reference number broken one character a line) and no page scrolls sideways."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from accounts.roles import Role
from applications.states import Status
from monitoring.models import Node
from testing.browser import force_login
from testing.fixtures import make_application, make_enterprise, make_user

PHONE = {"width": 375, "height": 812}
# Every run of letters and digits (a reference, an amount, a node name) in a table cell, up to
# 24 characters (a key or a hash may break), and
# whether it is laid out on more than one line (broken inside the word); a CJK character counts
# as a word of its own. The page's own width against the viewport's.
MEASURE = """() => {
  const broken = [];
  const cells = Array.from(document.querySelectorAll('main td, main th'))
    .filter(cell => cell.offsetParent !== null && cell.getBoundingClientRect().width > 2)
    // Headings hidden for the eye (the cards carry them as labels) are read by screen readers only.
    .filter(cell => !cell.closest('thead') || cell.closest('thead').getBoundingClientRect().width > 2);
  for (const cell of cells) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const words = node.textContent.matchAll(/(?<![A-Za-z0-9.,:@_\\/+%-])[A-Za-z0-9][A-Za-z0-9.,:@_\\/+%-]{1,23}(?![A-Za-z0-9.,:@_\\/+%-])|[\\u4e00-\\u9fff]/g);
      for (const word of words) {
        const range = document.createRange();
        range.setStart(node, word.index);
        range.setEnd(node, word.index + word[0].length);
        const tops = new Set(Array.from(range.getClientRects()).filter(r => r.width > 0).map(r => Math.round(r.top)));
        if (tops.size > 1) broken.push(word[0]);
      }
    }
  }
  return {broken: broken.slice(0, 10), scrollWidth: document.documentElement.scrollWidth,
          cells: cells.length};
}"""


def _check(page: Any, path: str) -> None:
    page.goto(path)
    result = page.evaluate(MEASURE)
    assert result["cells"] > 0, f"{path}: no table cell"
    assert result["broken"] == [], f"{path}: words broken across lines: {result['broken']}"
    assert result["scrollWidth"] <= PHONE["width"], f"{path}: scrolls sideways to {result['scrollWidth']} px"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_lays_out_the_workbench_application_list_node_list_and_dashboard_on_a_phone(new_page: Any) -> None:
    enterprise = make_enterprise("北京影都智造文化传媒有限公司")
    applicant = make_user("alice", Role.APPLICANT, enterprise=enterprise, display_name="李四")
    reviewer = make_user("reviewer", Role.REVIEWER, display_name="初审员")
    approver = make_user("approver", Role.APPROVER, display_name="审批负责人")
    finance = make_user("finance", Role.FINANCE, display_name="财务")
    provider_user = make_user("provider", Role.PROVIDER)
    from enterprises.models import Provider

    provider = Provider.objects.create(name="怀柔智算中心有限公司", status=Provider.Status.APPROVED)
    provider_user.provider = provider
    provider_user.save(update_fields=["provider"])
    for n in range(3):
        Node.objects.create(provider=provider, node_id=f"hr-gpu-node-{n:03d}", public_key="A" * 44)
    for status in (Status.SUBMITTED, Status.INITIAL_REVIEW, Status.APPROVED, Status.PAID, Status.DRAFT):
        make_application(enterprise, applicant, status)

    for user, path in (
        (reviewer, reverse("review:workbench")),
        (applicant, reverse("applications:list")),
        (provider_user, reverse("monitoring:portal")),
        (approver, reverse("reports:dashboard")),
        (finance, reverse("reports:dashboard")),
    ):
        phone = new_page(viewport=PHONE)  # each identity on a phone of its own
        force_login(phone, user)
        _check(phone, path)
