"""Periodic jobs of the review app (Huey)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(hour="0", minute="30"))
def daily_deadline_reminders() -> int:
    """Remind staff every morning of items due within 2 working days or overdue.

    Huey schedules in UTC (``HUEY["utc"]``); 00:30 UTC is 08:30 in Beijing, when the center's
    working day begins.
    """
    from review.actions import send_deadline_reminders

    return send_deadline_reminders()
