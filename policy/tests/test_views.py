"""The public 补贴测算 page and the staff page of holiday schedules."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import time_machine
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.roles import Role
from ledger.models import AuditEvent
from policy.actions import load_holiday_year
from policy.models import HolidayYear
from testing.fixtures import BaseTestCase, make_user

CALC = "/policy/calc/"
NOON = dt.datetime(2026, 11, 26, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
FILE_2027 = b"year: 2027\nsource: \xe9\x80\x9a\xe7\x9f\xa5\nholidays: [2027-01-01, 2027-02-08]\nworkdays: [2027-02-20]\n"


@time_machine.travel(NOON, tick=False)
class CalcPageTests(BaseTestCase):
    def test_the_url_is_policy_calc(self) -> None:
        self.assertEqual(reverse("policy:calc"), CALC)

    def test_anyone_sees_the_empty_form(self) -> None:
        response = self.client.get(CALC)
        self.assertContains(response, "补贴测算")
        self.assertContains(response, "总算力成本（元）")
        self.assertContains(response, "2026-02-05")
        self.assertNotContains(response, "可获补助")

    def test_it_shows_the_amount_and_the_breakdown(self) -> None:
        response = self.client.get(CALC, {"cost": "50000", "minutes": "60"})
        self.assertContains(response, "12,000.00")
        self.assertContains(response, "按分钟上限")
        self.assertContains(response, "年度剩余额度")
        self.assertEqual(response.context["result"].binding, "per_minute_cap")

    def test_every_breakdown_row_shows_its_amount_in_yuan(self) -> None:
        response = self.client.get(CALC, {"cost": "50000", "minutes": "60"})
        body = response.content.decode()
        table = body[body.index("<tbody>", body.index("calc-amount")) : body.index("</tbody>", body.index("calc-amount"))]
        rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table, flags=re.S)
        steps = response.context["result"].breakdown
        self.assertEqual(len(rows), len(steps))
        for row, step in zip(rows, steps, strict=True):
            amount = re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)[-1]
            self.assertEqual(amount, f"{step.value:,.2f}")

    def test_overseas_and_granted_this_year_count(self) -> None:
        response = self.client.get(
            CALC, {"cost": "40000", "minutes": "80", "overseas": "on", "granted_this_year": "90000"}
        )
        result = response.context["result"]
        self.assertEqual((result.amount, result.binding), (Decimal("10000.00"), "annual_cap"))

    def test_it_shows_the_last_day_to_apply_for_a_launch_date(self) -> None:
        response = self.client.get(CALC, {"cost": "50000", "minutes": "60", "launch_date": "2026-10-20"})
        self.assertEqual(response.context["deadline"], dt.date(2026, 12, 1))
        self.assertContains(response, "2026年12月1日")
        self.assertContains(response, "距截止还有 3 个工作日")

    def test_a_passed_deadline_is_said_plainly(self) -> None:
        response = self.client.get(CALC, {"cost": "50000", "minutes": "60", "launch_date": "2026-09-20"})
        self.assertContains(response, "已超过申报期限")

    def test_a_launch_date_in_the_future_is_refused(self) -> None:
        response = self.client.get(CALC, {"cost": "50000", "minutes": "60", "launch_date": "2026-12-01"})
        self.assertContains(response, "上线时间不能晚于今天")

    def test_invalid_input_keeps_what_was_typed_and_says_what_is_wrong(self) -> None:
        response = self.client.get(CALC, {"cost": "12.345", "minutes": "abc"})
        self.assertContains(response, "金额至多两位小数")
        self.assertContains(response, "请输入整数分钟数")
        self.assertContains(response, 'value="12.345"')
        self.assertNotIn("result", response.context)

    def test_htmx_gets_only_the_result_panel(self) -> None:
        response = self.client.get(CALC, {"cost": "50000", "minutes": "60"}, headers={"HX-Request": "true"})
        self.assertContains(response, "12,000.00")
        self.assertNotContains(response, "<html")

    def test_the_page_has_no_inline_script(self) -> None:
        response = self.client.get(CALC, {"cost": "50000", "minutes": "60"})
        self.assertNotRegex(response.content.decode(), r"<script(?![^>]*\bsrc=)[^>]*>")

    def test_a_signed_in_applicant_gets_the_enterprises_granted_total_counted(self) -> None:
        application = apps.get_model("applications", "Application")
        application.objects.create(
            enterprise=self.enterprise,
            created_by=self.alice,
            status="paid",
            filing_number="测试备案0001",
            granted_amount=Decimal("95000.00"),
            submitted_at=NOON,
        )
        self.login(self.alice)
        response = self.client.get(CALC, {"cost": "50000", "minutes": "60"})
        self.assertEqual(response.context["result"].amount, Decimal("5000.00"))
        self.assertContains(response, "自动计入")


class CalendarPageTests(BaseTestCase):
    url = "/policy/calendar/"

    def test_the_url_is_policy_calendar(self) -> None:
        self.assertEqual(reverse("policy:calendar"), self.url)

    def test_anonymous_users_are_sent_to_login(self) -> None:
        response = self.client.get(self.url)
        self.assertEqual(response.status_code, 302)
        self.assertIn("login", response["Location"])

    def test_it_names_no_library_on_the_page(self) -> None:
        self.login(self.reviewer)
        page = self.client.get(self.url)
        self.assertContains(page, "已随平台内置")
        self.assertNotContains(page, "chinesecalendar")

    def test_applicants_providers_and_outsiders_are_refused(self) -> None:
        for user in (self.alice, self.provider_user, self.outsider):
            self.login(user)
            self.assertEqual(self.client.get(self.url).status_code, 403, user)

    def test_staff_see_loaded_years_and_the_built_in_range(self) -> None:
        load_holiday_year(
            {
                "year": 2027,
                "source": "国务院办公厅关于2027年部分节假日安排的通知",
                "holidays": ["2027-01-01"],
                "workdays": [],
            },
            actor=None,
        )
        self.login(self.reviewer)
        response = self.client.get(self.url)
        self.assertContains(response, "国务院办公厅关于2027年部分节假日安排的通知")
        self.assertContains(response, "2004–2026")
        self.assertNotContains(response, "载入一年的安排")  # only a system administrator loads

    def test_the_list_takes_the_same_number_of_queries_however_many_years_are_loaded(self) -> None:
        def load(*years: int) -> None:
            for year in years:
                load_holiday_year(
                    {"year": year, "source": "通知", "holidays": [f"{year}-01-01"], "workdays": []},
                    actor=None,
                )

        def count() -> int:
            self.client.get(self.url)  # builds the calendar once
            with CaptureQueriesContext(connection) as queries:
                self.assertEqual(self.client.get(self.url).status_code, 200)
            return len(queries)

        self.login(self.reviewer)
        load(2027)
        one = count()
        load(2028, 2029, 2030)
        self.assertEqual(count(), one)

    def test_a_system_administrator_loads_a_year_by_upload(self) -> None:
        admin = make_user("sys", Role.SYSADMIN)
        self.login(admin)
        response = self.client.post(self.url, {"file": SimpleUploadedFile("2027.yaml", FILE_2027)})
        self.assertRedirects(response, self.url)
        row = HolidayYear.objects.get(year=2027)
        self.assertEqual((row.loaded_by, row.workdays), (admin, ["2027-02-20"]))
        self.assertTrue(AuditEvent.objects.filter(action="calendar.load", actor=admin).exists())

    def test_an_invalid_upload_shows_the_bad_date_and_stores_nothing(self) -> None:
        self.login(make_user("sys", Role.SYSADMIN))
        bad = FILE_2027.replace(b"2027-02-20", b"2027-02-08")
        response = self.client.post(self.url, {"file": SimpleUploadedFile("2027.yaml", bad)})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "2027-02-08 同时列为放假日期和调休上班日期")
        self.assertFalse(HolidayYear.objects.exists())

    def test_a_file_that_is_not_yaml_is_refused(self) -> None:
        self.login(make_user("sys", Role.SYSADMIN))
        response = self.client.post(self.url, {"file": SimpleUploadedFile("x.yaml", b"\xff\xfe\x00binary")})
        self.assertContains(response, "UTF-8")

    def test_staff_other_than_the_system_administrator_cannot_load(self) -> None:
        self.login(self.reviewer)
        response = self.client.post(self.url, {"file": SimpleUploadedFile("2027.yaml", FILE_2027)})
        self.assertEqual(response.status_code, 403)
        self.assertFalse(HolidayYear.objects.exists())
