"""好差评 figures of a year (docs/ratings.md#reports): ratings per level, the average score of each
dimension, and the follow-ups of poor ratings open, closed and overdue. Read-only."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import Avg, Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.lib.money import round_half_up
from policy.calendar import get_state
from policy.queries import year_bounds
from review.models import DIMENSIONS, Rating, RatingFollowUp, Satisfaction
from review.ratings import is_overdue


def _average(value: float | None) -> str | None:
    if value is None:
        return None
    return str(round_half_up(Decimal(str(value))))


def ratings_summary(year: int, today: dt.date | None = None) -> dict[str, Any]:
    """The ratings given in ``year`` (Asia/Shanghai) and their follow-ups, JSON-ready.

    ``levels``: one row per level, best first, with its count; ``dimensions``: each dimension's
    average score (5 = 非常满意 … 1 = 非常不满意, two decimals, ``None`` without ratings);
    ``follow_ups``: open, closed and overdue (open past the deadline, or answered after it).
    """
    today = today or timezone.localdate()
    start, end = year_bounds(year)
    rated = Rating.objects.filter(rated_at__gte=start, rated_at__lt=end)
    # One query for the counts and the averages; the follow-ups only when there are ratings.
    figures = rated.aggregate(
        **{f"level_{level.value}": Count("id", filter=Q(overall=level.value)) for level in Satisfaction},
        **{name: Avg(name) for name in DIMENSIONS},
    )
    counts = {level.value: figures[f"level_{level.value}"] for level in Satisfaction}
    averages = {name: figures[name] for name in DIMENSIONS}
    follow_ups = list(RatingFollowUp.objects.filter(rating__in=rated)) if any(counts.values()) else []
    state = get_state() if follow_ups else None
    open_count = sum(1 for f in follow_ups if f.status == RatingFollowUp.Status.OPEN)
    return {
        "total": sum(counts.values()),
        "levels": [
            {"code": level.value, "label": str(level.label), "count": counts.get(level.value, 0)}
            for level in Satisfaction
        ],
        "dimensions": [
            {"code": name, "label": str(label), "average": _average(averages[name])}
            for name, label in DIMENSIONS.items()
        ],
        "follow_ups": {
            "open": open_count,
            "closed": len(follow_ups) - open_count,
            "overdue": sum(1 for f in follow_ups if is_overdue(f, today, state=state)),
        },
    }


def ratings_sheet_rows(summary: dict[str, Any]) -> list[list[Any]]:
    """The rows of the workbook's 好差评 sheet: (section, item, value)."""
    section_levels, section_dims, section_follow = (
        _("评价等级（件）"),
        _("维度平均分（5分制）"),
        _("差评回访（件）"),
    )
    rows: list[list[Any]] = [[section_levels, row["label"], row["count"]] for row in summary["levels"]]
    rows.append([section_levels, _("合计"), summary["total"]])
    rows += [
        [section_dims, row["label"], Decimal(row["average"]) if row["average"] is not None else "—"]
        for row in summary["dimensions"]
    ]
    follow = summary["follow_ups"]
    rows += [
        [section_follow, _("待回访"), follow["open"]],
        [section_follow, _("已回访"), follow["closed"]],
        [section_follow, _("逾期"), follow["overdue"]],
    ]
    return rows
