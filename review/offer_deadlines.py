"""The apply-by date of an offer (docs/offers.md): reminders at set working days before it, each
sent once, and expiry of an offer not taken by it; the workbench's list of untaken works."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from applications.models import Offer
from core.models import Notification
from core.transactions import durable
from ledger.actions import record_event
from policy import calendar as policy_calendar
from policy.loader import PolicyNotInForceError, PolicyParams, params_at
from review.offers import apply_by_text, locked_offer, notify_about_offer, offer_body

# Working days before the apply-by date at which the enterprise is reminded (dated parameter
# ``offer.reminder_workdays``); each reminder is sent once.
DEFAULT_REMINDERS = (10, 3)


def _notice(offer: Offer, kind: str, title: str, body: str) -> Callable[[], None]:
    """The notice to send once the transaction has committed."""

    def send() -> None:
        notify_about_offer(offer, kind, title, body)

    return send


def expire_offers(today: dt.date | None = None) -> int:
    """Offers not taken by their apply-by date expire (daily); the enterprise is told."""
    today = today or timezone.localdate()
    count = 0
    for offer in Offer.objects.filter(status=Offer.Status.PENDING, apply_by__lt=today).select_related("work"):
        with durable():
            locked = locked_offer(offer)
            if locked.status != Offer.Status.PENDING:
                continue
            locked.status = Offer.Status.EXPIRED
            locked.decided_at = timezone.now()
            locked.save(update_fields=["status", "decided_at"])
            record_event(
                "offer.expire",
                actor=None,
                obj=locked,
                after={"apply_by": locked.apply_by.isoformat()},
                enterprise_id=locked.work.enterprise_id,
            )
            title = _("作品《%(title)s》的补助推送已过申报截止日") % {"title": locked.work.title}
            body = _("申报截止日 %(day)s 已过，该补助推送未被领取，已过期。如有疑问请联系区文促中心。") % {
                "day": apply_by_text(locked)
            }
            transaction.on_commit(
                _notice(locked, Notification.Kind.OFFER_EXPIRED, title, body),
                robust=True,
            )
        count += 1
    return count


def reminder_workdays(params: PolicyParams | None) -> tuple[int, ...]:
    value = params.extra.get("offer.reminder_workdays") if params is not None else None
    if not value:
        return DEFAULT_REMINDERS
    return tuple(sorted({int(v) for v in value}, reverse=True))


def send_offer_reminders(today: dt.date | None = None) -> int:
    """Remind the enterprise of a pending offer at the set working days before its apply-by date;
    each reminder once (several due on one day are sent as one)."""
    today = today or timezone.localdate()
    try:
        params: PolicyParams | None = params_at(today)
    except PolicyNotInForceError:
        params = None
    marks = reminder_workdays(params)
    calendar = policy_calendar.get_calendar()
    sent = 0
    for offer in Offer.objects.filter(status=Offer.Status.PENDING, apply_by__gte=today).select_related(
        "work"
    ):
        left = calendar.workdays_between(today, offer.apply_by)
        with durable():
            locked = locked_offer(offer)
            done = set(locked.reminders_sent)
            due = [n for n in marks if left <= n and n not in done]
            if not due:
                continue
            locked.reminders_sent = sorted(done | set(due), reverse=True)
            locked.save(update_fields=["reminders_sent"])
            record_event(
                "offer.remind",
                actor=None,
                obj=locked,
                after={"workdays_left": left, "marks": due},
                enterprise_id=locked.work.enterprise_id,
            )
            title = _("提醒：作品《%(title)s》的算力补助请于 %(day)s 前确认申报") % {
                "title": locked.work.title,
                "day": apply_by_text(locked),
            }
            body = offer_body(locked)
            transaction.on_commit(
                _notice(locked, Notification.Kind.OFFER_REMINDER, title, body),
                robust=True,
            )
        sent += 1
    return sent


def untaken_works() -> QuerySet[Offer]:
    """Launched works whose offer was not taken (pending, declined or expired), for the center's workbench."""
    return (
        Offer.objects.exclude(status=Offer.Status.ACCEPTED)
        .select_related("work", "work__enterprise")
        .order_by("apply_by", "pk")
    )
