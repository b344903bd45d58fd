"""Background worker hooks of the platform (Huey, discovered by ``yingdu run_huey``)."""

from __future__ import annotations

import datetime as dt
import threading

from huey import crontab
from huey.contrib.djhuey import db_task, on_startup

from core.periodic import catch_up, periodic_job

_outbox_requeued = threading.Lock()


@on_startup()
def catch_up_periodic_jobs() -> None:
    """When a worker starts, run the latest slot of each periodic job that no worker ran yet."""
    catch_up()


@on_startup()
def requeue_outbox() -> None:
    """When a worker starts, queue every unsent e-mail again: a worker that died took its tasks
    with it (once per process; a row already sent is skipped by its task)."""
    from core.outbox import requeue_unsent

    if _outbox_requeued.acquire(blocking=False):
        requeue_unsent(stale_after=dt.timedelta(0))


@db_task(retries=3, retry_delay=60, retry_backoff=2)
def deliver_outbox_email(pk: int) -> bool:
    """Send one e-mail of the outbox; a server that refuses or cannot be reached is retried."""
    from core.outbox import send_queued

    return send_queued(pk)


@periodic_job(crontab(minute="*/10"))
def requeue_unsent_email() -> int:
    """Every ten minutes: queue again the e-mails whose task was lost or whose retries ran out."""
    from core.outbox import requeue_unsent

    return requeue_unsent()
