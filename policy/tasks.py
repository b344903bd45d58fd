"""Background jobs of the policy app (Huey): the daily check that next year's holidays are loaded."""

from __future__ import annotations

import logging

from huey import crontab

from core.periodic import periodic_job

logger = logging.getLogger(__name__)


def warn_system_administrators() -> str:
    """From 1 November, while next year has no official schedule: log a warning and e-mail each
    active system administrator. Returns the warning (``""`` when there is nothing to say)."""
    from django.utils import timezone

    from accounts.models import User
    from accounts.roles import Role
    from core.notifications import queue_email
    from policy.calendar import next_year_warning

    warning = next_year_warning(timezone.localdate())
    if not warning:
        return ""
    logger.warning("%s", warning)
    addresses = sorted(
        set(
            User.objects.filter(groups__name=Role.SYSADMIN, is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )
    queue_email(warning[:60], warning, addresses)
    return warning


@periodic_job(crontab(hour="0", minute="35"))
def daily_holiday_schedule_check() -> str:
    """Every morning at 08:35 in Beijing (00:35 UTC), once however many workers run."""
    return warn_system_administrators()
