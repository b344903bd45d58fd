"""Periodic jobs of the log (Huey): a checkpoint every five minutes and a nightly full verification."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from ledger.actions import run_verification, sign_checkpoint


@db_periodic_task(crontab(minute="*/5"))
def sign_periodic_checkpoint() -> None:
    """Sign a checkpoint if entries were appended since the last one (cheap when nothing changed)."""
    sign_checkpoint()


@db_periodic_task(crontab(hour="3", minute="17"))
def verify_ledger_nightly() -> None:
    """Recompute the whole log and store the result for the inspector page."""
    run_verification(actor=None, actor_repr="nightly")
