"""The wording rules of the browser walk catch each defect a person found, and pass good text."""

from __future__ import annotations

from django.test import SimpleTestCase

from yingdu.tests import wording


class WordingRuleTests(SimpleTestCase):
    def assert_caught(self, text: str, kind: str) -> None:
        found = wording.problems_in(text, "page")
        self.assertTrue(any(kind in line for line in found), (text, found))

    def test_it_catches_a_negative_day_count(self) -> None:
        self.assert_caught("审核期限 2026年3月16日（剩余 -96 个工作日）", "negative day count")
        self.assert_caught("周期 -3 个工作日", "negative day count")

    def test_it_catches_a_utc_time(self) -> None:
        self.assert_caught("最近登录 2026年12月5日 01:23 UTC", "UTC time")
        self.assert_caught("接收时间 2026-12-05 01:23:45+00:00", "UTC time")

    def test_it_catches_an_internal_id(self) -> None:
        self.assert_caught("对账记录 31 @ 675: 1", "internal id")
        self.assert_caught("<Finding: Finding object (3)>", "internal id")

    def test_it_catches_a_notice_without_its_deadline_date(self) -> None:
        found = wording.mail_problems(
            [("申请 YD2026-000026 需补充材料（一次性告知）", "请在规定期限内一次性补齐。")]
        )
        self.assertTrue(any("deadline" in line for line in found), found)
        self.assertEqual(
            wording.mail_problems(
                [("申请 YD2026-000026 需补充材料（一次性告知）", "补正截止日期：2026年6月15日（含当日）")]
            ),
            [],
        )

    def test_it_passes_dates_references_phones_and_overdue_wording(self) -> None:
        text = (
            "YD2026-000026 受理日期 2026年12月7日 已逾期 96 个工作日 今天截止 剩余 3 个工作日 "
            "010-69681234 预算 − 核定 + 已缴回 2026年12月5日 09:00 15,000.00 元 alice@example.cn "
            "provider:1 token:ydp_kekk7914 密钥指纹 a3f5Z 9c1+00"
        )
        self.assertEqual(wording.problems_in(text, "page"), [])
