"""The public progress query (办件进度查询): the right pair sees the stage and dates, nothing personal;
any wrong pair gets one refusal; a loop of guesses from one address is stopped; every query is audited."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import override_settings
from django.urls import reverse

from accounts.roles import Role
from applications.states import Status
from applications.timeline import timeline
from ledger.models import AuditEvent
from review.actions import claim_application
from review.tests.helpers import ReviewTestCase
from testing.fixtures import USCC_A, USCC_B, make_application, make_enterprise, make_user

SH = ZoneInfo("Asia/Shanghai")
URL = reverse("progress_query")


def at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=SH)


def blanked(html: str) -> str:
    """The page with its per-response CSRF tokens and the echoed input blanked, so that two answers
    compare equal when they differ only in what was typed."""
    html = re.sub(r' value="[^"]*"', "", html)
    return re.sub(r'"X-CSRFToken": "[^"]*"', '"X-CSRFToken": ""', html)


class ProgressQueryTests(ReviewTestCase):
    def setUp(self) -> None:
        self.traveller = time_machine.travel(at("2026-03-04"), tick=False)
        self.traveller.start()
        self.addCleanup(self.traveller.stop)
        self.app = make_application(
            self.enterprise, self.alice, Status.INITIAL_REVIEW, submitted=at("2026-03-02")
        )

    def ask(self, reference: str, uscc: str, ip: str = "203.0.113.5") -> Any:
        return self.client.post(URL, {"reference": reference, "uscc": uscc}, REMOTE_ADDR=ip)

    def test_it_is_reachable_from_the_portal_home_without_login(self) -> None:
        home = self.client.get(reverse("home"))
        self.assertContains(home, f'href="{URL}"')
        page = self.client.get(URL)
        self.assertContains(page, "办件进度查询")
        self.assertContains(page, '<label for="id_reference">申报编号')
        self.assertContains(page, '<label for="id_uscc">统一社会信用代码')

    def test_it_answers_with_stage_dates_and_deadlines_for_the_right_pair(self) -> None:
        response = self.ask(str(self.app.reference).lower(), " " + self.enterprise.uscc.lower())
        self.assertEqual(response.status_code, 200)
        result = response.content.decode()
        self.assertIn(str(self.app.reference), result)
        self.assertIn("初审中", result)
        self.assertIn("2026年3月2日", result)  # submitted and received
        self.assertIn("审核期限", result)
        self.assertIn("2026年3月16日", result)  # 10 working days after receipt
        self.assertIn("2026年4月14日", result)  # the whole cycle, 30 working days
        self.assertNotIn("暂定", result)

    def test_it_refuses_every_wrong_pair_with_the_same_answer(self) -> None:
        other = make_application(
            self.other_enterprise, self.bob, Status.SUBMITTED, submitted=at("2026-03-02")
        )
        answers = [
            self.ask("YD2026-999999", self.enterprise.uscc),  # wrong reference
            self.ask(str(self.app.reference), USCC_B),  # another enterprise's real code
            self.ask("YD2026-999999", USCC_B),  # both wrong
            self.ask(str(other.reference), self.enterprise.uscc),  # a real reference of another enterprise
        ]
        first = answers[0]
        self.assertEqual(first.status_code, 404)
        self.assertContains(first, "未查到与该申报编号和统一社会信用代码对应的申报", status_code=404)
        self.assertNotContains(first, 'id="progress-result"', status_code=404)
        for answer in answers[1:]:
            self.assertEqual(answer.status_code, first.status_code)
            self.assertEqual(blanked(answer.content.decode()), blanked(first.content.decode()))

    def test_it_shows_no_enterprise_name_amount_phone_or_person_name(self) -> None:
        page = self.ask(str(self.app.reference), self.enterprise.uscc).content.decode()
        self.assertIn('id="progress-result"', page)
        e = self.enterprise
        secrets = [
            e.name,
            self.app.enterprise_name,
            self.app.work_title,
            e.legal_rep_name,
            e.handler_name,
            e.legal_rep_phone,
            e.handler_phone,
            e.handler_phone.removeprefix("+86"),
            e.handler_email,
            e.registered_address,
            self.alice.display_name,
            self.alice.username,
            str(self.app.requested_amount),
            f"{self.app.requested_amount:,.2f}",
            f"{self.app.total_compute_cost:,.2f}",
            self.app.filing_number,
        ]
        for secret in secrets:
            self.assertNotIn(secret, page)
        self.assertNotIn("元", page.split('id="progress-result"', 1)[1])

    def test_it_marks_deadlines_in_a_year_without_an_official_schedule_provisional(self) -> None:
        with time_machine.travel(at("2026-12-21"), tick=False):
            late = make_application(self.enterprise, self.alice, Status.SUBMITTED, submitted=at("2026-12-21"))
            response = self.ask(str(late.reference), self.enterprise.uscc)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "2027年1月5日")
        self.assertRegex(
            response.content.decode(),
            r'id="stage-due">2027年1月5日<span class="badge warn provisional"[^>]*>暂定',
        )
        self.assertContains(response, "2027年国务院节假日安排尚未公布")

    @override_settings(PROGRESS_QUERY_LIMIT=10, PROGRESS_QUERY_WINDOW_MINUTES=10)
    def test_it_limits_a_loop_of_guesses_from_one_address(self) -> None:
        for n in range(10):
            self.assertEqual(self.ask(f"YD2026-{900000 + n}", self.enterprise.uscc).status_code, 404)
        blocked = self.ask(str(self.app.reference), self.enterprise.uscc)
        self.assertContains(blocked, "查询过于频繁", status_code=429)
        self.assertContains(blocked, "10 分钟内最多查询 10 次", status_code=429)
        self.assertNotContains(blocked, 'id="progress-result"', status_code=429)
        # Another address is not held back by this one's guesses.
        self.assertEqual(
            self.ask(str(self.app.reference), self.enterprise.uscc, ip="198.51.100.9").status_code, 200
        )
        # The refused tries are not queries: the log holds the ten guesses and the other address's answer.
        self.assertEqual(AuditEvent.objects.filter(action="review.progress_query").count(), 11)
        with time_machine.travel(at("2026-03-04", 11), tick=False):
            self.assertEqual(self.ask(str(self.app.reference), self.enterprise.uscc).status_code, 200)

    @override_settings(TRUSTED_PROXY_COUNT=1)
    def test_it_counts_tries_by_the_address_the_trusted_proxy_saw(self) -> None:
        with self.settings(PROGRESS_QUERY_LIMIT=2):
            for n in range(2):
                self.client.post(
                    URL,
                    {"reference": f"YD2026-{900000 + n}", "uscc": self.enterprise.uscc},
                    REMOTE_ADDR="10.0.0.2",
                    HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.7",
                )
            blocked = self.client.post(
                URL,
                {"reference": str(self.app.reference), "uscc": self.enterprise.uscc},
                REMOTE_ADDR="10.0.0.2",
                HTTP_X_FORWARDED_FOR="192.0.2.99, 203.0.113.7",
            )
        self.assertEqual(blocked.status_code, 429)

    def test_it_audits_each_query_and_keeps_it_off_the_applicants_timeline(self) -> None:
        self.ask("YD2026-999999", self.enterprise.uscc)
        self.ask(str(self.app.reference), self.enterprise.uscc)
        events = list(AuditEvent.objects.filter(action="review.progress_query").order_by("id"))
        self.assertEqual([e.result for e in events], [AuditEvent.Result.FAILURE, AuditEvent.Result.SUCCESS])
        self.assertEqual([e.ip for e in events], ["203.0.113.5", "203.0.113.5"])
        self.assertEqual(events[0].after, {"reference": "YD2026-999999", "uscc": self.enterprise.uscc})
        self.assertEqual(events[1].object_id, str(self.app.pk))
        self.assertNotIn("办件进度查询", [item.label for item in timeline(self.app)])

    def test_it_names_a_malformed_code_without_querying(self) -> None:
        response = self.ask(str(self.app.reference), "91110116MA01ABCD1")
        self.assertContains(response, "统一社会信用代码应为18位", status_code=400)
        self.assertFalse(AuditEvent.objects.filter(action="review.progress_query").exists())


class ProgressStepsTests(ReviewTestCase):
    @time_machine.travel(at("2026-03-03"), tick=False)
    def test_it_lists_the_steps_taken_without_who_took_them_or_their_opinions(self) -> None:
        app = make_application(self.enterprise, self.alice, Status.SUBMITTED, submitted=at("2026-03-02"))
        claim_application(app, actor=self.reviewer, opinion="材料齐全，予以受理")
        page = self.client.post(URL, {"reference": app.reference, "uscc": self.enterprise.uscc})
        self.assertContains(page, "2026年3月3日 受理并开始初审")
        self.assertNotContains(page, self.reviewer.display_name)
        self.assertNotContains(page, "材料齐全")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_answers_on_a_375_px_phone_screen_with_labelled_controls(browser: Any, live_server: Any) -> None:
    enterprise = make_enterprise("北京影都智造文化传媒有限公司", USCC_A)
    applicant = make_user("alice", Role.APPLICANT, enterprise=enterprise)
    app = make_application(enterprise, applicant, Status.INITIAL_REVIEW)
    context = browser.new_context(
        base_url=live_server.url,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        viewport={"width": 375, "height": 740},
    )
    try:
        page = context.new_page()
        page.goto("/")
        page.get_by_role("link", name="办件进度查询").first.click()
        page.get_by_label("申报编号").fill(str(app.reference))
        page.get_by_label("统一社会信用代码").fill(USCC_A)
        page.get_by_role("button", name="查询").click()
        page.locator("#progress-result").wait_for()
        assert page.locator("#status").inner_text() == "初审中"
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
    finally:
        context.close()
