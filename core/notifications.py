"""Notifications: the one way the platform reaches people (docs/outbox.md, docs/sms.md).

Three channels, each written in the transaction of the action that sends it and delivered only
after that transaction commits (a decision that rolls back tells nobody; a mail server or a gateway
that is down never undoes a decision):

- the inbox: a :class:`~core.models.Notification` row per person (站内消息);
- e-mail: :func:`queue_email` writes an :class:`~core.models.OutboxEmail` row and hands it to the
  background worker; :func:`send_queued` takes the row under a lock, sends it with its fixed
  ``Message-ID`` and marks it sent in the same transaction, after the mail server accepted it. A task
  lost with a worker that died is found again: every worker re-queues the unsent rows when it
  starts, and :func:`requeue_unsent` runs every ten minutes. A message is sent once, except when the
  worker dies between the server's acceptance and the mark: the retry carries the same
  ``Message-ID``, which is how a mail server or reader recognises it as the same message;
- text messages: :func:`send_sms` records an :class:`~core.models.SmsMessage` per person who takes
  them (the number masked) and the worker sends it through the gateway ``SMS_URL`` names
  (``core.sms``), retried while the gateway fails, never sent twice.

:func:`deliver` writes all three for one notice. Which notice says what is the business of the app
that sends it (``review.notify``, ``audits.notify``); nothing here knows a notice's words. No other
module sends mail (``yingdu/tests/test_codebase.py``).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import smtplib
import uuid
from collections.abc import Callable, Iterable, Sequence
from email.utils import parseaddr
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone
from huey.contrib.djhuey import db_task

from core.models import Notification, OutboxEmail, SmsMessage
from core.sms import SmsError, backend
from core.validators import is_mobile, mask_phone

logger = logging.getLogger(__name__)

# After this many failed tries an e-mail is given up (status failed) and logged.
MAX_ATTEMPTS = 10
# A queued e-mail untried for this long has lost its task: the sweep queues it again.
RETRY_AFTER = dt.timedelta(minutes=10)
SMS_MAX_LENGTH = 70  # one message of Chinese text (UCS-2): 70 characters
_MOBILE = re.compile(r"\+?\d{6,20}")


class Person(Protocol):
    """Whom a notice reaches: a user account (``accounts.User``, a layer above this one)."""

    @property
    def pk(self) -> int: ...
    @property
    def email(self) -> str: ...
    @property
    def phone(self) -> str: ...
    @property
    def sms_opt_out(self) -> bool: ...


class OutboxError(Exception):
    """The mail server did not take the message this time; the worker tries again."""


# --- one notice, three channels ---------------------------------------------------------------------


def deliver(
    users: Iterable[Person],
    *,
    kind: str,
    title: str,
    body: str,
    link: str = "",
    application_id: int | None = None,
    subject: str | None = None,
    extra_emails: Iterable[str] = (),
    sms: str | None = None,
) -> list[Notification]:
    """One notice: an inbox message for each user, one e-mail to them (and to any extra address,
    such as the handler's on a form) with ``subject`` (the title when None), and, when ``sms`` is
    given, that text message to each user who takes text messages. All three are written together
    or not at all."""
    users = list(users)
    with transaction.atomic():
        created = inbox(
            Notification(
                user_id=user.pk, application_id=application_id, kind=kind, title=title, body=body, link=link
            )
            for user in users
        )
        queue_email(title if subject is None else subject, body, [*extra_emails, *(u.email for u in users)])
        if sms is not None:
            send_sms(users, kind, sms)
    return created


def inbox(messages: Iterable[Notification]) -> list[Notification]:
    """Put these messages in their users' inboxes."""
    return Notification.objects.bulk_create(list(messages))


# --- e-mail: the outbox -----------------------------------------------------------------------------


def addresses(values: Iterable[str]) -> list[str]:
    """The distinct non-empty addresses of ``values``, first spelling kept, in order."""
    seen: dict[str, str] = {}
    for value in values:
        address = (value or "").strip()
        if address and address.lower() not in seen:
            seen[address.lower()] = address
    return list(seen.values())


def new_message_id(from_email: str) -> str:
    domain = parseaddr(from_email)[1].rpartition("@")[2] or "yingdu.local"
    return f"<{uuid.uuid4().hex}.outbox@{domain}>"


def queue_email(subject: str, body: str, recipients: Sequence[str]) -> OutboxEmail | None:
    """Put one e-mail in the outbox, to be sent once the current transaction commits (at once
    outside one). None when there is nobody to send it to."""
    to = addresses(recipients)
    if not to:
        return None
    from_email = settings.DEFAULT_FROM_EMAIL
    row = OutboxEmail.objects.create(
        message_id=new_message_id(from_email),
        subject=" ".join(str(subject).split())[:500],
        body=body,
        from_email=from_email,
        recipients=to,
    )
    transaction.on_commit(lambda: enqueue(row.pk), robust=True)
    return row


def enqueue(pk: int) -> None:
    """Hand one outbox row to the background worker; a queue that is down is logged (the sweep
    finds the row again)."""
    try:
        deliver_outbox_email(pk)
    except Exception:  # noqa: BLE001 - a queue that is down must not undo the decision
        logger.exception("outbox e-mail %s could not be queued", pk)


@db_task(retries=3, retry_delay=60, retry_backoff=2)
def deliver_outbox_email(pk: int) -> bool:
    """Send one e-mail of the outbox (the worker's task); a server that refuses or cannot be reached
    is retried."""
    return send_queued(pk)


def send_queued(pk: int) -> bool:
    """One try at sending an outbox row. True when it is sent now or was already; raises
    :class:`OutboxError` when the server refused or could not be reached and tries remain."""
    with transaction.atomic():
        row = OutboxEmail.objects.select_for_update().filter(pk=pk).first()
        if row is None or row.status == OutboxEmail.Status.SENT:
            return row is not None
        if row.status == OutboxEmail.Status.FAILED:
            return False
        row.attempts += 1
        row.attempted_at = timezone.now()
        message = EmailMessage(
            row.subject,
            row.body,
            row.from_email,
            list(row.recipients),
            headers={"Message-ID": row.message_id},
        )
        try:
            message.send()
        except (smtplib.SMTPException, OSError) as exc:
            row.last_error = (str(exc) or type(exc).__name__)[:200]
            if row.attempts >= MAX_ATTEMPTS:
                row.status = OutboxEmail.Status.FAILED
                logger.error("outbox e-mail %s given up after %d tries: %s", pk, row.attempts, row.last_error)
            row.save(update_fields=["attempts", "attempted_at", "last_error", "status"])
        else:
            row.status, row.sent_at, row.last_error = OutboxEmail.Status.SENT, timezone.now(), ""
            row.save(update_fields=["attempts", "attempted_at", "last_error", "status", "sent_at"])
            return True
    if row.status == OutboxEmail.Status.FAILED:
        return False
    raise OutboxError(row.last_error)


def requeue_unsent(stale_after: dt.timedelta = RETRY_AFTER) -> int:
    """Queue again every unsent row not tried (or created) within ``stale_after``; their number."""
    cutoff = timezone.now() - stale_after
    pks = list(
        OutboxEmail.objects.filter(status=OutboxEmail.Status.QUEUED, created_at__lte=cutoff)
        .exclude(attempted_at__gt=cutoff)
        .order_by("id")
        .values_list("pk", flat=True)
    )
    for pk in pks:
        enqueue(pk)
    return len(pks)


# --- text messages ----------------------------------------------------------------------------------


def fit_sms(text: str) -> str:
    """``text`` cut to one message if it is unexpectedly long."""
    return text if len(text) <= SMS_MAX_LENGTH else text[: SMS_MAX_LENGTH - 1] + "…"


def mobile(user: Person) -> str | None:
    """The number a text message to ``user`` goes to, or None (none given, or opted out)."""
    phone = re.sub(r"[\s-]", "", user.phone or "")
    if user.sms_opt_out or not _MOBILE.fullmatch(phone) or not is_mobile(phone):
        return None  # none given, opted out, or a landline: a text message cannot reach it
    return phone


def send_sms(users: Iterable[Person], kind: str, text: str) -> list[SmsMessage]:
    """Record ``text`` to each user who takes text messages and queue it once the transaction
    commits."""
    text = fit_sms(text)
    messages = []
    for user in users:
        phone = mobile(user)
        if phone is None:
            continue
        message = SmsMessage.objects.create(
            user_id=user.pk, kind=kind, phone_masked=mask_phone(phone), text=text
        )
        transaction.on_commit(_enqueue_sms_after_commit(message.pk, phone), robust=True)
        messages.append(message)
    return messages


def _enqueue_sms_after_commit(message_id: int, phone: str) -> Callable[[], None]:
    # A closure, not functools.partial: Django names the callback when it logs a failure.
    def queue_sms() -> None:
        enqueue_sms(message_id, phone)

    return queue_sms


def enqueue_sms(message_id: int, phone: str) -> None:
    """Hand one recorded text message to the background worker; a queue that is down is logged."""
    try:
        deliver_sms(message_id, phone)
    except Exception:  # noqa: BLE001 - a queue that is down must not undo the decision
        logger.exception("SMS %s could not be queued", message_id)


@db_task(retries=settings.SMS_RETRIES, retry_delay=settings.SMS_RETRY_DELAY, retry_backoff=2)
def deliver_sms(message_id: int, phone: str) -> None:
    """Send one recorded text message (the worker's task); a failing gateway is retried."""
    attempt_sms(message_id, phone)


def attempt_sms(message_id: int, phone: str) -> None:
    """One try at sending a recorded message; raises while the gateway fails, so the worker tries
    again. A message already sent is not sent again."""
    with transaction.atomic():
        message = SmsMessage.objects.select_for_update().get(pk=message_id)
        if message.status == SmsMessage.Status.SENT:
            return
        message.attempts += 1
        try:
            backend().send(phone, message.text)
        except SmsError as exc:
            message.status, message.last_error = SmsMessage.Status.FAILED, str(exc)[:200]
            message.save(update_fields=["attempts", "status", "last_error"])
        else:
            message.status, message.sent_at, message.last_error = SmsMessage.Status.SENT, timezone.now(), ""
            message.save(update_fields=["attempts", "status", "sent_at", "last_error"])
            return
    raise SmsError(message.last_error)
