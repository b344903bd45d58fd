"""Periodic jobs of the log (Huey): a checkpoint every five minutes, cosigned by the witnesses, and a nightly verification.

Each runs once per slot of its schedule however many workers run (``core.periodic``).
"""

from __future__ import annotations

from django.utils import timezone
from huey import crontab

from core.periodic import periodic_job
from ledger.actions import sign_checkpoint
from ledger.verification import run_verification

FULL_ON_WEEKDAY = 6  # Sunday (Asia/Shanghai): the whole log; the other nights, what is new


@periodic_job(crontab(minute="*/5"))
def sign_periodic_checkpoint() -> None:
    """Sign a checkpoint if entries were appended since the last one (cheap when nothing changed),
    then ask the witnesses to cosign it (``ledger.witnessing``; appends never wait for them)."""
    from ledger.witnessing import collect_cosignatures

    sign_checkpoint()
    collect_cosignatures()


@periodic_job(crontab(hour="3", minute="17"))
def verify_ledger_nightly() -> None:
    """Verify and store the result for the inspector page: on Sundays the whole log, on the other
    nights the entries appended since the last run that passed, linked to it by a consistency proof."""
    full = timezone.localdate().weekday() == FULL_ON_WEEKDAY
    run_verification(actor=None, actor_repr="nightly", incremental=not full)
