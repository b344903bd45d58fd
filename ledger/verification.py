"""Running a verification of the log as an action: the result stored for the inspector page and the
run itself audited (``ledger.verify`` does the checking)."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from ledger.actions import record_event
from ledger.models import AuditEvent, VerificationRun
from ledger.unchanged import mark
from ledger.verify import verify_log
from ledger.witnessing import witness_summary

logger = logging.getLogger(__name__)


def run_verification(
    *,
    actor: AbstractBaseUser | AnonymousUser | None = None,
    actor_repr: str = "",
    request: HttpRequest | None = None,
    seen_elsewhere: list[str] | None = None,
    incremental: bool = False,
) -> Any:
    """Verify the log (``ledger.verify``), store the result for the inspector page and audit the run.

    ``incremental``: only the entries after the last run that passed, against the tree that
    run verified (a full run when none passed yet).
    """
    started = timezone.now()
    since = None
    if incremental:
        last = VerificationRun.objects.filter(ok=True).order_by("-id").first()
        if last is not None and last.tree_size > 0:
            since = (last.tree_size, bytes(last.root_hash))
    result = verify_log(seen_elsewhere=seen_elsewhere, since=since)
    first_bad = result.first_bad_index
    # A run that kept every leaf its row checks named marks the rows it read (``ledger.unchanged``):
    # a full run, or an incremental one that checked the rows written since the last mark.
    named = sorted(result.rows_named) if result.rows_named is not None else None
    xmin = result.snapshot_xmin if named is not None else None
    with transaction.atomic():
        run = VerificationRun.objects.create(
            started_at=started,
            finished_at=timezone.now(),
            tree_size=result.tree_size,
            root_hash=result.root_hash,
            checkpoints_checked=result.checkpoints_checked,
            ok=result.ok,
            first_bad_index=first_bad,
            problems=[{"index": p.index, "message": p.message} for p in result.problems],
            actor_repr=(actor_repr or getattr(actor, "username", "") or "system")[:150],
            snapshot_xmin=xmin,
            rows_named=named if xmin is not None else [],
            mark="" if xmin is None or named is None else mark(result.tree_size, result.root_hash, xmin, named),
        )
        try:
            # A log damaged badly enough may refuse new entries; the run is stored regardless.
            with transaction.atomic():
                record_event(
                    "ledger.verify",
                    actor=actor,
                    obj=run,
                    after={
                        "ok": result.ok,
                        "tree_size": result.tree_size,
                        "first_bad_index": first_bad,
                        **witness_summary(),
                        **({"since": since[0]} if since is not None else {}),
                    },
                    result=AuditEvent.Result.SUCCESS if result.ok else AuditEvent.Result.FAILURE,
                    request=request,
                    actor_repr=actor_repr,
                )
        except Exception:
            logger.exception("could not log the verification run")
    return run
