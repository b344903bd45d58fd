"""Background jobs of the review app (Huey): the daily deadline reminders and offer deadlines."""

from __future__ import annotations

import logging

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_task

from core.notifications import attempt_sms, queue_email
from core.periodic import periodic_job
from review.offer_deadlines import expire_offers, send_offer_reminders
from review.reminders import send_deadline_reminders

logger = logging.getLogger(__name__)


@periodic_job(crontab(hour="0", minute="30"))
def daily_deadline_reminders() -> int:
    """Remind staff every morning of items due within 2 working days or overdue.

    Huey schedules in UTC (``HUEY["utc"]``); 00:30 UTC is 08:30 in Beijing, when the center's
    working day begins. Once per day however many workers run (``core.periodic``).
    """
    return send_deadline_reminders()


@db_task(retries=3, retry_delay=60)
def deliver_email(subject: str, body: str, recipients: list[str]) -> None:
    """A task queued before e-mails went through the outbox: it becomes an outbox row."""
    queue_email(subject, body, recipients)


@db_task(retries=settings.SMS_RETRIES, retry_delay=settings.SMS_RETRY_DELAY, retry_backoff=2)
def deliver_sms(message_id: int, phone: str) -> None:
    """A task queued before text messages were sent by ``core.notifications.deliver_sms``."""
    attempt_sms(message_id, phone)


@periodic_job(crontab(hour="0", minute="40"))
def daily_offer_deadlines() -> int:
    """Every morning (08:40 in Beijing): offers not taken by their apply-by date expire, and the
    reminders due at the set working days before it are sent, each once (docs/offers.md)."""
    return expire_offers() + send_offer_reminders()
