"""State changes of the policy app: loading a year's holiday schedule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from ledger.actions import record_event
from policy.calendar import clear_calendar_cache, parse_holiday_year
from policy.models import HolidayYear


def load_holiday_year(
    data: Mapping[str, Any], *, actor: Any, request: HttpRequest | None = None
) -> HolidayYear:
    """Load (or replace) one year's holiday schedule from the SPEC §3 file format.

    Validation names every bad date (outside the year, both a holiday and a working day, a
    "make-up working day" that is not a weekend) and nothing is stored unless all of it is
    valid. The previous schedule of that year, if any, is kept in the audit event
    ``calendar.load``, written in the same transaction. Deadlines computed afterwards use the
    new schedule; deadlines already stored on applications are not recomputed here.
    """
    parsed = parse_holiday_year(data)
    user = actor if getattr(actor, "pk", None) is not None else None
    with transaction.atomic():
        row = HolidayYear.objects.select_for_update().filter(year=parsed.year).first()
        before = row.as_dict() if row is not None else None
        if row is None:
            row = HolidayYear(year=parsed.year)
        after = parsed.as_dict()
        row.source = parsed.source
        row.holidays = after["holidays"]
        row.workdays = after["workdays"]
        row.loaded_by = user
        row.loaded_at = timezone.now()
        row.save()
        record_event("calendar.load", actor=actor, obj=row, before=before, after=after, request=request)
        # The calendar cache also checks the table on every use; clearing it here just makes the
        # new year visible at once inside this process, and again once the load is committed.
        clear_calendar_cache()
        transaction.on_commit(clear_calendar_cache, robust=True)
    return row
