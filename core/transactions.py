"""The transaction of an action (docs/states.md, "Actions").

Every top-level action — a function a view, a command, a job or a receiver calls to change state —
runs in one durable transaction, ``transaction.atomic(durable=True)`` through :func:`durable`: it is
never a part of another transaction, so when it returns its changes are committed, its audit event
is in the log and its notices are on their way. An action called inside another transaction by
mistake fails at once instead of committing with its caller (or rolling back with it) unnoticed.

An action made of other actions says so with :func:`batch`: an offer confirmed (the draft updated,
then submitted), a resubmission (its files added), an instruction's item paid, the demo's played
year. The batch is the one durable transaction; each action inside it is a savepoint of it, all or
nothing together. Django's ``TestCase`` allows a durable block inside the transaction that wraps
each test.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction

_in_batch: ContextVar[bool] = ContextVar("in_action_batch", default=False)


@contextmanager
def durable() -> Iterator[None]:
    """The transaction of one top-level action: durable, except as a part of a :func:`batch`.
    Also a decorator (``@durable()``), deciding at each call."""
    with transaction.atomic(durable=not _in_batch.get()):
        yield


@contextmanager
def batch() -> Iterator[None]:
    """One durable transaction for an action made of other actions, each a savepoint inside it.
    Also a decorator (``@batch()``)."""
    with durable():
        token = _in_batch.set(True)
        try:
            yield
        finally:
            _in_batch.reset(token)
