from __future__ import annotations

import json
import re
from typing import Any

import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from applications.models import Application
from applications.states import Status
from reports.tests.fixtures import NOW, ReportFixture, make_application

URL = "/reports/"


def chart_data(html: str) -> dict[str, Any]:
    match = re.search(r'<script id="report-data" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the page embeds its chart data"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


@time_machine.travel(NOW, tick=False)
class DashboardAccessTests(ReportFixture):
    def test_anonymous_visitor_is_redirected_to_login(self) -> None:
        response = self.client.get(URL)
        self.assertEqual(response.status_code, 302)
        self.assertIn("/accounts/login/", response["Location"])

    def test_it_selects_the_year_it_shows_in_the_year_filter(self) -> None:
        self.login(self.head)
        page = self.client.get(URL, {"year": NOW.year + 1}).content.decode()
        self.assertIn(f'<option value="{NOW.year + 1}" selected>', page)
        self.assertNotIn(f'<option value="{NOW.year}" selected>', page)

    def test_applicant_gets_403(self) -> None:
        self.login(self.alice)
        self.assertEqual(self.client.get(URL).status_code, 403)

    def test_provider_and_outsider_get_403(self) -> None:
        for user in (self.provider_user, self.outsider):
            self.login(user)
            self.assertEqual(self.client.get(URL).status_code, 403, user.username)

    def test_every_center_role_sees_the_dashboard(self) -> None:
        for user in (self.reviewer, self.head, self.approver, self.finance, self.inspector):
            self.login(user)
            response = self.client.get(URL)
            self.assertEqual(response.status_code, 200, user.username)
            self.assertContains(response, "统计报表（2026年）")


@time_machine.travel(NOW, tick=False)
class DashboardFigureTests(ReportFixture):
    def get_data(self, query: str = "") -> dict[str, Any]:
        self.login(self.head)
        response = self.client.get(URL + query)
        self.assertEqual(response.status_code, 200)
        return chart_data(response.content.decode())

    def test_it_counts_applications_by_state_for_the_year(self) -> None:
        data = self.get_data()
        counts = {row["code"]: row["count"] for row in data["by_state"]}
        self.assertEqual(
            counts,
            {
                "draft": 1,
                "submitted": 1,
                "initial_review": 1,
                "supplement_requested": 0,
                "re_review": 0,
                "final_approval": 0,
                "approved": 1,
                "paid": 2,
                "rejected": 1,
                "withdrawn": 0,
                "partially_clawed_back": 0,
                "clawed_back": 1,
            },
        )
        self.assertEqual(data["by_state"][0], {"code": "draft", "label": "草稿", "count": 1})
        self.assertEqual(
            data["totals"],
            {
                "submitted": 7,
                "in_review": 2,
                # Every award of the year's applications, the clawed-back one included.
                "approved": 4,
                "clawed_back_count": 1,
                "rejected": 1,
                "paid_count": 3,
                "requested": "96000.00",
                "granted": "42000.00",
                "paid": "27000.00",
                "clawed_back": "10000.00",
                "repaid": "4000.00",
                "written_off": "0.00",
                "outstanding": "6000.00",
            },
        )

    def test_it_sums_amounts_by_month(self) -> None:
        m = self.get_data()["monthly"]
        self.assertEqual(m["submitted"], [0, 1, 2, 1, 1, 1, 1, 0, 0, 0, 0, 0])
        self.assertEqual(
            m["requested"][:7],
            ["0.00", "10000.00", "17000.00", "15000.00", "8000.00", "20000.00", "26000.00"],
        )
        self.assertEqual(m["approved"], [0, 1, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0])
        # The award of February stays granted; its clawback of April is a figure of its own.
        self.assertEqual(m["granted"][:5], ["0.00", "10000.00", "17000.00", "15000.00", "0.00"])
        self.assertEqual(m["granted_cumulative"][-1], "42000.00")
        self.assertEqual(m["clawed_back"][2:5], ["0.00", "10000.00", "0.00"])
        self.assertEqual(m["outstanding"][3], "6000.00")
        self.assertEqual(m["repaid"][3:5], ["0.00", "4000.00"])
        # Money paid stays paid: the clawback is a receivable of its own.
        self.assertEqual(m["paid_count"], [0, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0])
        self.assertEqual(m["paid"][:4], ["0.00", "0.00", "22000.00", "5000.00"])
        self.assertEqual(m["paid_cumulative"][3:5], ["27000.00", "27000.00"])

    def test_it_compares_granted_and_paid_with_the_yearly_budget(self) -> None:
        budget = self.get_data()["budget"]
        self.assertEqual(budget["amount"], "5000000.00")
        self.assertEqual(budget["reference"], "区文促中心年度预算（示例）")
        # 5,000,000 − 42,000 granted + 4,000 repaid: the 6,000 of the clawback not yet repaid is a
        # receivable, not money back in the budget.
        self.assertEqual(budget["left"], "4962000.00")
        self.assertEqual(budget["granted_pct"], 0.8)
        self.assertEqual(budget["paid_pct"], 0.5)

    def test_a_year_without_budget_says_so(self) -> None:
        self.login(self.head)
        response = self.client.get(URL + "?year=2025")
        self.assertIsNone(chart_data(response.content.decode())["budget"])
        self.assertContains(response, "2025年未登记预算")
        self.assertNotContains(response, "budget.yaml")

    def test_it_measures_deadline_compliance_with_supplement_time_excluded(self) -> None:
        c = self.get_data()["compliance"]
        self.assertEqual(
            c["review"],
            {"on_time": 4, "late": 1, "open": 1, "overdue": 1, "unknown": 0, "measured": 6, "rate_pct": 66.7},
        )
        self.assertEqual(
            c["payment"],
            {"on_time": 3, "late": 0, "open": 0, "overdue": 1, "unknown": 0, "measured": 4, "rate_pct": 75.0},
        )
        self.assertEqual(
            c["cycle"],
            {"on_time": 3, "late": 0, "open": 2, "overdue": 1, "unknown": 0, "measured": 4, "rate_pct": 75.0},
        )

    def test_it_flags_overdue_work(self) -> None:
        overdue = self.get_data()["overdue"]
        self.assertEqual([row["reference"] for row in overdue], ["YD2026-0004", "YD2026-0006"])
        self.assertEqual(overdue[0]["payment_deadline"], "2026-05-28")
        self.assertEqual(overdue[1]["review_deadline"], "2026-06-15")

    def test_it_sums_gpu_hours_by_provider_and_scenario(self) -> None:
        data = self.get_data()
        self.assertEqual(
            data["providers"],
            [
                {"name": "怀柔智算中心", "records": 2, "gpu_hours": 3.0, "cost": "150.00"},
                {"name": "=cmd|' /C calc'!A0", "records": 1, "gpu_hours": 0.5, "cost": "20.00"},
            ],
        )
        self.assertEqual(
            data["scenarios"],
            [
                {"code": "text2video", "label": "文生视频", "records": 2, "gpu_hours": 2.5, "cost": "120.00"},
                {"code": "render", "label": "渲染", "records": 1, "gpu_hours": 1.0, "cost": "50.00"},
            ],
        )

    def test_a_year_before_the_policy_is_counted_as_not_measurable(self) -> None:
        c = self.get_data("?year=2025")["compliance"]
        self.assertEqual(c["review"]["unknown"], 1)
        self.assertIsNone(c["review"]["rate_pct"])

    def test_the_year_filter_lists_years_with_applications(self) -> None:
        self.login(self.head)
        response = self.client.get(URL + "?year=2025")
        self.assertContains(response, '<option value="2025" selected>2025年</option>', html=True)
        self.assertContains(response, '<option value="2026">2026年</option>', html=True)
        self.assertEqual(chart_data(response.content.decode())["totals"]["submitted"], 1)

    def test_a_malformed_year_falls_back_to_the_current_year(self) -> None:
        self.assertEqual(self.get_data("?year=abc")["year"], 2026)
        self.assertEqual(self.get_data("?year=99999")["year"], 2026)

    def test_chart_data_is_embedded_as_json_and_drawn_by_a_static_script(self) -> None:
        self.login(self.head)
        html = self.client.get(URL).content.decode()
        scripts = re.findall(r"<script(?P<attrs>[^>]*)>", html)
        for attrs in scripts:
            # CSP script-src 'self': every script is a static file or inert JSON data.
            self.assertTrue("src=" in attrs or 'type="application/json"' in attrs, attrs)
        self.assertIn("/static/reports/dashboard.js", html)
        self.assertIn("/static/vendor/echarts.min.js", html)
        self.assertIn('id="chart-amounts"', html)

    def test_company_names_in_chart_data_cannot_close_the_script_tag(self) -> None:
        hostile = "</script><script>alert(1)</script>"
        Application.objects.filter(pk=self.apps["B1"].pk).update(enterprise_name=hostile)
        self.login(self.head)
        response = self.client.get(URL)
        html = response.content.decode()
        self.assertNotIn("<script>alert(1)", html)
        self.assertEqual(chart_data(html)["overdue"][1]["enterprise"], hostile)

    def test_dashboard_query_count_does_not_grow_with_the_data(self) -> None:
        self.login(self.head)
        self.client.get(URL)  # warm the calendar cache
        with CaptureQueriesContext(connection) as baseline:
            self.client.get(URL)
        for i in range(10):
            make_application(
                self.enterprise,
                self.alice,
                status=Status.APPROVED if i % 2 else Status.INITIAL_REVIEW,
                reference=f"YD2026-1{i:03d}",
                submitted=f"2026-06-0{1 + i % 5}",
                received=f"2026-06-0{1 + i % 5}",
                requested="1000.00",
                approved="2026-06-20" if i % 2 else None,
                granted="1000.00" if i % 2 else None,
            )
        with self.assertNumQueries(len(baseline)):
            response = self.client.get(URL)
        self.assertEqual(chart_data(response.content.decode())["totals"]["submitted"], 17)
        # A fixed number: the page's queries plus one grouped query per money figure of the month,
        # one for the 好差评 counts and averages, two for the spend by kind, vendor and unit, and four
        # for the 达标即享 service (applications submitted, those from offers, the offers by state, the calendar).
        self.assertLessEqual(len(baseline), 29)


@time_machine.travel(NOW, tick=False)
class EmptyDashboardTests(ReportFixture):
    def test_a_year_without_data_shows_empty_states(self) -> None:
        self.login(self.inspector)
        response = self.client.get(URL + "?year=2030")
        self.assertContains(response, "本年度暂无申请。")
        self.assertContains(response, "本年度暂无算力使用记录。")
        self.assertNotContains(response, 'id="chart-states"')
        data = chart_data(response.content.decode())
        self.assertEqual(data["totals"]["granted"], "0.00")
        self.assertFalse(any(data["has"].values()))
