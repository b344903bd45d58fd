from __future__ import annotations

import re

import time_machine

from accounts.roles import Role
from reports.tests.fixtures import NOW, ReportFixture
from testing.fixtures import make_user

URL = "/reports/mine/"


def element_text(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}">([^<]+)<', html)
    assert match, element_id
    return match.group(1)


@time_machine.travel(NOW, tick=False)
class EnterpriseViewAccessTests(ReportFixture):
    def test_anonymous_visitor_is_redirected_to_login(self) -> None:
        response = self.client.get(URL)
        self.assertEqual(response.status_code, 302)
        self.assertIn("/accounts/login/", response["Location"])

    def test_staff_provider_and_outsider_get_403(self) -> None:
        for user in (self.reviewer, self.finance, self.provider_user, self.outsider):
            self.login(user)
            self.assertEqual(self.client.get(URL).status_code, 403, user.username)

    def test_applicant_without_enterprise_gets_404(self) -> None:
        self.login(make_user("loner", Role.APPLICANT))
        self.assertEqual(self.client.get(URL).status_code, 404)


@time_machine.travel(NOW, tick=False)
class EnterpriseViewTests(ReportFixture):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        from core.models import Notification

        Notification.objects.create(
            user=cls.alice,
            application=cls.apps["A1"],
            kind=Notification.Kind.PAYMENT,
            title="补贴已兑现：YD2026-0002",
            body="…",
            link="/applications/1/",
        )
        Notification.objects.create(
            user=cls.alice,
            kind=Notification.Kind.APPROVAL,
            title="外部链接的通知",
            body="…",
            link="https://evil.example/",
            read_at=NOW,
        )
        Notification.objects.create(
            user=cls.bob, kind=Notification.Kind.REMINDER, title="给王五的通知", body="…"
        )

    def test_it_lists_only_the_enterprises_own_applications(self) -> None:
        self.login(self.alice)
        html = self.client.get(URL).content.decode()
        for ref in ("YD2026-0001", "YD2026-0002", "YD2026-0004", "YD2025-0001", "草稿"):
            self.assertIn(ref, html)
        for ref in ("YD2026-0003", "YD2026-0005", "YD2026-0006", "YD2026-0007"):
            self.assertNotIn(ref, html)

    def test_it_shows_the_quota_left_this_year_without_clawed_back_awards(self) -> None:
        self.login(self.alice)
        response = self.client.get(URL)
        # Cap 100,000; granted 12,000 + 15,000 (the clawed-back 10,000 no longer counts).
        self.assertEqual(element_text(response.content.decode(), "quota-left"), "73,000.00")
        self.assertContains(response, "年度上限 100,000.00 元，已核定 27,000.00 元")

    def test_it_mentions_amounts_still_under_review(self) -> None:
        self.login(self.bob)
        response = self.client.get(URL)
        self.assertEqual(element_text(response.content.decode(), "quota-left"), "95,000.00")
        self.assertContains(response, "另有 20,000.00 元申请正在审核")

    def test_it_shows_the_users_own_notices_and_links_to_the_inbox(self) -> None:
        self.login(self.alice)
        response = self.client.get(URL)
        html = response.content.decode()
        self.assertEqual(element_text(html, "unread"), "1")
        self.assertContains(response, '<a href="/applications/1/">补贴已兑现：YD2026-0002</a>', html=True)
        self.assertContains(response, "外部链接的通知")
        self.assertNotContains(response, "evil.example")
        self.assertNotContains(response, "给王五的通知")
        self.assertContains(response, 'href="/review/inbox/"')
