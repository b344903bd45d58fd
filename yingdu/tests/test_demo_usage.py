"""The demo's works are made the ways the industry buys compute, each detail's base equal to row 23."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.test import SimpleTestCase

from applications.usage_lines import subsidy_base
from applications.vendor_formats import parse_file
from demo.usage import detail, way_of

START = dt.datetime(2026, 10, 1, 9, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)


class DemoUsageTests(SimpleTestCase):
    def test_each_way_of_buying_compute_gives_a_detail_whose_base_is_row_23(self) -> None:
        rows = {
            "total_compute_cost": Decimal("23700.01"),
            "work_minutes": 47,
            "filing_number": "DEMO京剧备-0001",
        }
        seen: dict[str, Decimal | None] = {}
        for index in range(4):
            content = detail(index, rows, START)
            if content is None:
                seen[way_of(index)] = None  # GPU time: the earlier layout, metered by the agent
                continue
            result = parse_file("明细.csv", content, now=NOW)
            assert result.format == "template" and not result.rejections
            seen[way_of(index)] = subsidy_base(result.lines).total
        assert seen == {
            "gpu": None,
            "reseller_seedance": Decimal("23700.01"),
            "kling_pack": Decimal("23700.01"),
            "wanx_seconds": Decimal("23700.01"),
        }
