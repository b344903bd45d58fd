"""Periodic jobs that run once per slot of their schedule, however many background workers run.

Every worker's scheduler enqueues every periodic task (Huey has no cluster-wide scheduler), and a
worker that starts enqueues the jobs of the latest slot once more (``catch_up``) so that a slot
missed while no worker ran is not lost. ``periodic_job`` makes all of that harmless: before the
job's body runs, the worker inserts a ``PeriodicRun`` row keyed by the job and the slot (the latest
time at or before now that the crontab matches). The unique key lets one insert win, in
PostgreSQL and SQLite alike; the others skip. A job that fails deletes its row so that the next
enqueue of the same slot tries again; a run whose worker died (no finish an hour after its start)
is taken over by the next enqueue of that slot.

Huey schedules in UTC (``HUEY["utc"]``), so slots are UTC times.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import IntegrityError, transaction
from huey.api import TaskWrapper
from huey.contrib.djhuey import db_periodic_task

logger = logging.getLogger(__name__)

Schedule = Callable[[dt.datetime], bool]
R = TypeVar("R")

# The furthest back a slot is looked for: the platform's jobs run at least daily.
LOOKBACK = dt.timedelta(days=2)

# A run that has not finished after this long is taken to have died with its worker.
STALE_AFTER = dt.timedelta(hours=1)

# Every periodic job, by name (``module.function``), for ``catch_up``.
JOBS: dict[str, TaskWrapper] = {}

_caught_up = threading.Event()
_catch_up_lock = threading.Lock()


def utc_minute(now: dt.datetime | None = None) -> dt.datetime:
    """``now`` (default: the current time) as a naive UTC time truncated to the minute, as Huey's
    crontabs read it."""
    now = now or dt.datetime.now(dt.UTC)
    if now.tzinfo is not None:
        now = now.astimezone(dt.UTC).replace(tzinfo=None)
    return now.replace(second=0, microsecond=0)


def latest_slot(schedule: Schedule, now: dt.datetime | None = None) -> dt.datetime:
    """The latest minute at or before ``now`` that ``schedule`` matches, as an aware UTC time."""
    minute = utc_minute(now)
    earliest = minute - LOOKBACK
    candidate = minute
    while candidate >= earliest:
        if schedule(candidate):
            return candidate.replace(tzinfo=dt.UTC)
        candidate -= dt.timedelta(minutes=1)
    raise ValueError(f"the schedule matches no minute within {LOOKBACK} before {minute:%Y-%m-%d %H:%M}")


def claim(job: str, slot: dt.datetime) -> bool:
    """Record that ``job`` runs for ``slot``; False when another run already did or is doing it.

    A run that started more than ``STALE_AFTER`` ago and never finished (its worker was killed) is
    taken over: one conditional UPDATE, so that of several workers only one takes it.
    """
    from django.utils import timezone

    from core.models import PeriodicRun

    worker = f"{socket.gethostname()}:{os.getpid()}"
    try:
        with transaction.atomic():
            PeriodicRun.objects.create(job=job, slot=slot, worker=worker)
    except IntegrityError:
        now = timezone.now()
        taken = PeriodicRun.objects.filter(
            job=job, slot=slot, finished_at__isnull=True, started_at__lt=now - STALE_AFTER
        ).update(started_at=now, worker=worker)
        return taken == 1
    return True


def periodic_job(schedule: Schedule) -> Callable[[Callable[[], R]], TaskWrapper]:
    """A Huey periodic task (``db_periodic_task``) whose body runs once per slot of ``schedule``.

    Calling the body a second time for a slot that already ran does nothing and returns None.
    """

    def decorator(fn: Callable[[], R]) -> TaskWrapper:
        job = f"{fn.__module__}.{fn.__name__}"

        @functools.wraps(fn)
        def run_once_per_slot() -> R | None:
            from django.utils import timezone

            from core.models import PeriodicRun

            slot = latest_slot(schedule)
            if not claim(job, slot):
                logger.info("periodic job %s already ran for %s", job, slot.isoformat())
                return None
            try:
                result = fn()
            except BaseException:
                PeriodicRun.objects.filter(job=job, slot=slot).delete()
                raise
            PeriodicRun.objects.filter(job=job, slot=slot).update(finished_at=timezone.now())
            return result

        task = db_periodic_task(schedule)(run_once_per_slot)
        JOBS[job] = task
        return task

    return decorator


def catch_up() -> list[str]:
    """Enqueue every periodic job once for its latest slot (once per process; a worker's start-up hook).

    Jobs whose slot already ran skip at once; the others run as if the schedule had just fired.
    Returns the names of the jobs enqueued (empty when this process already caught up).
    """
    with _catch_up_lock:
        if _caught_up.is_set():
            return []
        _caught_up.set()
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("tasks")  # as ``run_huey`` does: every app's jobs are known
    enqueued = []
    for name, task in sorted(JOBS.items()):
        task()
        enqueued.append(name)
    return enqueued


def reset_catch_up() -> None:
    """Forget that this process caught up (tests)."""
    _caught_up.clear()
