"""The transaction of an action (docs/states.md, "Actions").

Every top-level action — a function a view, a command, a job or a receiver calls to change state —
runs in one durable transaction, ``transaction.atomic(durable=True)`` through :func:`durable`: it is
never a part of another transaction, so when it returns its changes are committed, its audit event
is in the log and its notices are on their way. An action called inside another one by mistake
fails at once instead of committing with its caller (or rolling back with it) unnoticed. An action
that another action runs as one of its steps has an inner, non-durable form, named as such.

One caller runs many top-level actions as a whole on purpose: the demo plays its year in one
:func:`batch`, all or nothing; inside it each action is a savepoint of the batch's transaction.
Django's ``TestCase`` allows a durable block inside the transaction that wraps each test.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction

_in_batch: ContextVar[bool] = ContextVar("in_action_batch", default=False)


def durable() -> transaction.Atomic:
    """The transaction of one top-level action: durable, except inside a :func:`batch`."""
    return transaction.atomic(durable=not _in_batch.get())


@contextmanager
def batch() -> Iterator[None]:
    """Run several top-level actions as one transaction, all or nothing (the demo's played year)."""
    with transaction.atomic():
        token = _in_batch.set(True)
        try:
            yield
        finally:
            _in_batch.reset(token)
