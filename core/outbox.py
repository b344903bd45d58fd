"""The outbox: every e-mail the platform sends is a row first (docs/outbox.md).

:func:`queue_email` writes an :class:`~core.models.OutboxEmail` in the current transaction (so
a decision that rolls back sends nothing) and hands its id to the background worker once the
transaction commits. The worker's :func:`send_queued` takes the row under a lock, sends it with its
fixed ``Message-ID`` and marks it sent in the same transaction, after the mail server accepted it;
a failure is recorded and retried. A task lost with a worker that died (Huey removes a task from the
queue before running it) is found again: every worker re-queues the unsent rows when it starts, and
:func:`requeue_unsent` runs every ten minutes.

A message is sent once, except in one case: the worker dies after the server accepted the message
and before the mark committed. The retry then carries the same ``Message-ID``, which is how a mail
server or reader recognises it as the same message.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import uuid
from collections.abc import Iterable, Sequence
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from core.models import OutboxEmail

logger = logging.getLogger(__name__)

# After this many failed tries a message is given up (status failed) and logged.
MAX_ATTEMPTS = 10
# A queued message untried for this long has lost its task: the sweep queues it again.
RETRY_AFTER = dt.timedelta(minutes=10)


class OutboxError(Exception):
    """The mail server did not take the message this time; the worker tries again."""


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
    from core.tasks import deliver_outbox_email

    try:
        deliver_outbox_email(pk)
    except Exception:  # noqa: BLE001 - a queue that is down must not undo the decision
        logger.exception("outbox e-mail %s could not be queued", pk)


def send_queued(pk: int) -> bool:
    """One try at sending an outbox row (the worker's task). True when it is sent now or was
    already; raises :class:`OutboxError` when the server refused or could not be reached and
    tries remain."""
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
