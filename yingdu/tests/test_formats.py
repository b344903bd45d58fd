"""One money format, Chinese dates and times, one pager, and the wording rules of the demo walk."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

from django.template import Context, Template
from django.test import RequestFactory, SimpleTestCase
from openpyxl import Workbook, load_workbook

from core.formats import date_text, datetime_text, money_text
from core.pagination import paginate
from core.xlsx import write_sheet
from yingdu.tests import wording


class FormatTests(SimpleTestCase):
    def test_it_shows_money_with_thousands_separators_and_two_decimals(self) -> None:
        self.assertEqual(money_text(Decimal("9750")), "9,750.00")
        self.assertEqual(money_text("100000.005"), "100,000.01")
        self.assertEqual(money_text(None), "—")

    def test_it_shows_moments_in_chinese_in_beijing_time(self) -> None:
        moment = dt.datetime(2026, 10, 10, 0, 0, tzinfo=dt.UTC)
        self.assertEqual(datetime_text(moment), "2026年10月10日 08:00")
        self.assertEqual(datetime_text(moment, seconds=True), "2026年10月10日 08:00:00")
        self.assertEqual(date_text(dt.date(2026, 3, 1)), "2026年3月1日")

    def test_it_reads_iso_text_of_the_log_as_a_moment(self) -> None:
        self.assertEqual(datetime_text("2026-10-10T08:00:00+08:00"), "2026年10月10日 08:00")
        self.assertEqual(date_text("2026-10-10"), "2026年10月10日")
        self.assertEqual(datetime_text("2026Q3"), "2026Q3")

    def test_the_templates_use_the_same_functions(self) -> None:
        html = Template(
            "{% load yingdu_format %}{{ a|money }} {{ t|cn_datetime }} {{ p|masked_phone }}"
        ).render(
            Context({"a": "9750", "t": dt.datetime(2026, 10, 10, 0, 0, tzinfo=dt.UTC), "p": "+8613800138000"})
        )
        self.assertEqual(html, "9,750.00 2026年10月10日 08:00 138****8000")


class PaginationTests(SimpleTestCase):
    def test_it_says_there_is_no_such_page_and_shows_the_last_one(self) -> None:
        request = RequestFactory().get("/list/", {"page": "999", "status": "pending"})
        page = paginate(request, list(range(45)), 20)
        self.assertEqual(page.number, 3)
        self.assertEqual(page.notice, "没有第 999 页，共 3 页，已显示第 3 页。")
        self.assertEqual(page.query, "status=pending&")

    def test_it_says_a_malformed_page_number_is_invalid(self) -> None:
        page = paginate(RequestFactory().get("/list/", {"page": "abc"}), list(range(5)), 20)
        self.assertEqual(page.number, 1)
        self.assertIn("无效", page.notice)
        self.assertEqual(paginate(RequestFactory().get("/list/"), [], 20).notice, "")


class WorkbookFormatTests(SimpleTestCase):
    def test_it_gives_amount_cells_the_thousands_format_and_moments_a_chinese_one(self) -> None:
        wb = Workbook()
        ws = wb.active
        assert ws is not None
        write_sheet(ws, ["金额（元）", "时间", "比例"], [[Decimal("9750.00"), dt.datetime(2026, 3, 1, 8), Decimal("0.3")]])
        out = io.BytesIO()
        wb.save(out)
        sheet = load_workbook(io.BytesIO(out.getvalue())).active
        assert sheet is not None
        self.assertEqual(sheet["A2"].number_format, "#,##0.00")
        self.assertIn("年", sheet["B2"].number_format)
        self.assertEqual(sheet["C2"].number_format, "General")
        self.assertEqual(wording.workbook_problems(out.getvalue(), "test"), [])


class WordingRuleTests(SimpleTestCase):
    def test_it_finds_codes_english_words_iso_timestamps_and_bare_amounts(self) -> None:
        text = (
            "标记 over_claim；application.pdf_download by 财务；2026-10-10T08:00:00+08:00；"
            "金额 9750.00 元，¥100000.00；状态 pending"
        )
        found = " ".join(wording.problems_in(text, "page"))
        for word in ("over_claim", "application.pdf_download", "2026-10-10T08:00", "9750.00", "¥", "pending"):
            self.assertIn(word, found)

    def test_it_lets_chinese_text_addresses_and_formatted_amounts_pass(self) -> None:
        text = "2026年10月10日 08:00 核定 9,750.00 元，详见 /audits/findings/4/ 或 yingzhi@example.cn（PDF、GPU）"
        self.assertEqual(wording.problems_in(text, "page"), [])
