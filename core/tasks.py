"""Background worker hooks of the platform (Huey, discovered by ``yingdu run_huey``).

The tasks that deliver one e-mail or one text message sit beside the code that queues them, in
``core.notifications``; importing it here registers them with the worker.
"""

from __future__ import annotations

import datetime as dt
import threading

from huey import crontab
from huey.contrib.djhuey import on_startup

from core import notifications
from core.periodic import catch_up, periodic_job

_outbox_requeued = threading.Lock()

# The worker's tasks of e-mail and text messages (registered when ``core.notifications`` is imported).
DELIVERY_TASKS = (notifications.deliver_outbox_email, notifications.deliver_sms)


@on_startup()
def catch_up_periodic_jobs() -> None:
    """When a worker starts, run the latest slot of each periodic job that no worker ran yet."""
    catch_up()


@on_startup()
def requeue_outbox() -> None:
    """When a worker starts, queue every unsent e-mail again: a worker that died took its tasks
    with it (once per process; a row already sent is skipped by its task)."""
    if _outbox_requeued.acquire(blocking=False):
        notifications.requeue_unsent(stale_after=dt.timedelta(0))


@periodic_job(crontab(minute="*/10"))
def requeue_unsent_email() -> int:
    """Every ten minutes: queue again the e-mails whose task was lost or whose retries ran out."""
    return notifications.requeue_unsent()
