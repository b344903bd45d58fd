"""Read-only selectors of the policy app: the policy year's bounds.

The money sums of applications (what an enterprise keeps of a year, the annual cap's record)
live in ``applications.money``: policy is below applications and reads none of its tables.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

# Policy years are calendar years in Beijing time (docs/subsidy.md: "same calendar year (submission year)").
POLICY_TZ = ZoneInfo("Asia/Shanghai")


def year_bounds(year: int) -> tuple[dt.datetime, dt.datetime]:
    """Aware datetimes [1 January 00:00, next 1 January 00:00) of ``year`` in Asia/Shanghai."""
    return dt.datetime(year, 1, 1, tzinfo=POLICY_TZ), dt.datetime(year + 1, 1, 1, tzinfo=POLICY_TZ)
