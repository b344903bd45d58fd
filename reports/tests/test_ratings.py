"""好差评 in the reports: counts per level, dimension averages and follow-ups on the dashboard, in the
workbook's 好差评 sheet and in ``yingdu reports summary`` (docs/ratings.md#reports)."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from typing import Any

import time_machine
from django.core.management import call_command
from openpyxl import load_workbook

from applications.states import Status
from policy.queries import POLICY_TZ
from reports.exports import build_workbook
from review import ratings
from review.models import RatingFollowUp
from testing.fixtures import BaseTestCase, make_application

NOW = dt.datetime(2026, 7, 10, 10, 0, tzinfo=POLICY_TZ)


def levels(overall: int, rest: int = 4) -> dict[str, int]:
    return {
        "guidance": rest,
        "convenience": rest,
        "efficiency": rest,
        "attitude": overall,
        "overall": overall,
    }


@time_machine.travel(NOW, tick=False)
class RatingReportTests(BaseTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        rated = [
            (cls.enterprise, cls.alice, Status.PAID, 5),
            (cls.enterprise, cls.alice, Status.REJECTED, 4),
            (cls.other_enterprise, cls.bob, Status.WITHDRAWN, 2),
        ]
        for enterprise, user, status, overall in rated:
            app = make_application(enterprise, user, status)
            ratings.rate_application(app, levels=levels(overall), actor=user)
        closed = make_application(cls.enterprise, cls.alice, Status.PAID)
        ratings.rate_application(closed, levels=levels(1, rest=2), actor=cls.alice)
        ratings.close_follow_up(
            RatingFollowUp.objects.get(rating__application=closed),
            response="已整改并回访",
            actor=cls.approver,
        )

    def test_the_workbook_has_the_ratings_sheet_with_the_counts(self) -> None:
        content, counts = build_workbook(2026)
        sheet = [list(r) for r in load_workbook(io.BytesIO(content))["好差评"].iter_rows(values_only=True)]
        values = {(row[0], row[1]): row[2] for row in sheet[1:]}
        self.assertEqual(sheet[0], ["类别", "项目", "数值"])
        self.assertEqual(
            [
                values["评价等级（件）", label]
                for label in ("非常满意", "满意", "基本满意", "不满意", "非常不满意")
            ],
            [1, 1, 0, 1, 1],
        )
        self.assertEqual(values["评价等级（件）", "合计"], 4)
        self.assertEqual(Decimal(str(values["维度平均分（5分制）", "服务态度"])), Decimal("3.00"))
        self.assertEqual(Decimal(str(values["维度平均分（5分制）", "办事便捷度"])), Decimal("3.50"))
        self.assertEqual(
            [values["差评回访（件）", label] for label in ("待回访", "已回访", "逾期")], [1, 1, 0]
        )
        self.assertEqual(counts["好差评"], len(sheet) - 1)

    def test_the_dashboard_and_the_summary_show_the_ratings(self) -> None:
        with time_machine.travel(dt.datetime(2026, 9, 1, 10, 0, tzinfo=POLICY_TZ), tick=False):
            self.login(self.finance)
            page = self.client.get("/reports/", {"year": 2026})
            out = io.StringIO()
            call_command("reports", "summary", "--year", "2026", "--json", stdout=out)
            text = io.StringIO()
            call_command("reports", "summary", "--year", "2026", stdout=text)
        self.assertContains(page, "好差评")
        self.assertContains(page, "差评回访：待回访 1 件，已回访 1 件，逾期 1 件")
        data: dict[str, Any] = json.loads(out.getvalue())["ratings"]
        self.assertEqual(data["total"], 4)
        self.assertEqual(data["follow_ups"], {"open": 1, "closed": 1, "overdue": 1})
        self.assertEqual(
            data["dimensions"][-1], {"code": "overall", "label": "整体满意度", "average": "3.00"}
        )
        self.assertIn(
            "好差评：4 件（非常满意 1，满意 1，基本满意 0，不满意 1，非常不满意 1）", text.getvalue()
        )
