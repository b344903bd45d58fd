"""State changes of the policy app: loading a year's holiday schedule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import User
from core import hooks
from core.lib.workdays import YearSchedule
from core.transactions import durable
from ledger.actions import record_event
from policy.calendar import HolidayYearData, clear_calendar_cache, get_state, parse_holiday_year
from policy.deadlines import Move, moves_between
from policy.models import HolidayYear


def _schedule(parsed: HolidayYearData) -> YearSchedule:
    return YearSchedule(
        parsed.year, frozenset(parsed.holidays), frozenset(parsed.workdays), source=parsed.source
    )


def preview_holiday_year(data: Mapping[str, Any]) -> tuple[HolidayYearData, list[Move]]:
    """What loading ``data`` would do, changing nothing: the validated schedule and every open
    deadline whose official date it moves (each with its settled date). Raises ``ValidationError``."""
    parsed = parse_holiday_year(data)
    before = get_state()
    after = before.with_year(_schedule(parsed), loaded_on=timezone.localdate())
    return parsed, moves_between(before, after, timezone.localdate())


def load_holiday_year(
    data: Mapping[str, Any], *, actor: User | None, request: HttpRequest | None = None
) -> HolidayYear:
    """Load (or replace) one year's holiday schedule from the docs/deadlines.md file format.

    Validation names every bad date (outside the year, both a holiday and a working day, a
    "make-up working day" that is not a weekend) and nothing is stored unless all of it is
    valid. The previous schedule of that year, if any, is kept in the audit event
    ``calendar.load``, written in the same transaction.

    Every open deadline the new schedule moves (:func:`preview_holiday_year` lists the same) is
    recomputed: stored dates are rewritten in this transaction, an enterprise's deadline keeps
    the later date and the center's takes the earlier (:func:`policy.calendar.settle`); the moves
    are in the audit event, and the applicants and staff concerned are told after commit
    (:data:`core.hooks.CALENDAR_LOADED`).
    """
    parsed = parse_holiday_year(data)
    user = actor if getattr(actor, "pk", None) is not None else None
    with durable():
        before_state = get_state()
        today = timezone.localdate()
        moves = moves_between(before_state, before_state.with_year(_schedule(parsed), loaded_on=today), today)
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
        for move in moves:
            if move.store is not None and move.moved:
                move.store()
        moved = [m.as_dict() for m in moves]
        record_event(
            "calendar.load",
            actor=actor,
            obj=row,
            before=before,
            after={**after, "deadlines_moved": moved},
            request=request,
        )
        # The calendar cache also checks the table on every use; clearing it here just makes the
        # new year visible at once inside this process, and again once the load is committed.
        clear_calendar_cache()
        transaction.on_commit(clear_calendar_cache, robust=True)
        hooks.announce(hooks.CALENDAR_LOADED, year=row.year, moves=moved, actor_id=getattr(user, "pk", None))
    return row
