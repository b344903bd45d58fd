"""Announcements between apps: a lower app says what happened, higher apps act on it.

The apps are layered (see ``[tool.importlinter]`` in pyproject.toml): applications never import
review or audits. When a lower app's action needs a higher app to follow up (a receipt e-mail, a
reconciliation against monitoring), it *announces* the event here and the higher app *registers*
a receiver in its ``AppConfig.ready()``.

- :func:`announce` delivers after the surrounding transaction commits, each receiver on its own
  (``robust=True``): nothing happens for a change that rolled back, and a receiver that fails
  (a mail server down) is logged and never stops the others.
- :func:`collect` asks the receivers for something now (a panel on a page) and returns their
  answers in registration order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.db import transaction

# What a lower app announces. Receivers take keyword arguments only.
APPLICATION_SUBMITTED = "application.submitted"  # application_id, actor
RE_REVIEW_PASSED = "application.re_review_passed"  # application_id, actor: final approval comes next
APPLICATION_ENDED = "application.ended"  # application_id, actor: paid, rejected or withdrawn
REVIEW_PAGE_PANELS = "review.page_panels"  # application -> {"template": ..., **context}
# The enterprise's page of its application: application, user -> {"template": ..., **context}
APPLICATION_PAGE_PANELS = "application.page_panels"

# Loading an official holiday year (policy): collect the open deadlines it moves, then tell people.
CALENDAR_MOVES = "calendar.moves"  # before, after (CalendarState), today -> list[policy.deadlines.Move]
CALENDAR_LOADED = "calendar.loaded"  # year, moves (list of Move.as_dict()), actor_id

ENTERPRISE_REGISTERED = "enterprise.registered"  # enterprise_id, actor
ENTERPRISE_VERIFIED = "enterprise.verified"  # enterprise_id, actor: verified or refused, see its status
# A provider's vendor bill export read into usage lines: name, content, now -> {"format", "lines", "rejected"}
USAGE_EXPORT_READ = "usage.export_read"

# A witness was shown another history of the log (ledger.witnessing): witness_name, tree_size, reason
LEDGER_WITNESS_ALARM = "ledger.witness_alarm"

# What an enterprise keeps of a year's awards, for the public calculator (policy) that sits below
# the app holding the money record (applications.money): enterprise_id, year -> Decimal
ANNUAL_KEPT = "enterprise.annual_kept"

HOOKS = frozenset(
    {
        APPLICATION_SUBMITTED,
        RE_REVIEW_PASSED,
        APPLICATION_ENDED,
        REVIEW_PAGE_PANELS,
        APPLICATION_PAGE_PANELS,
        CALENDAR_MOVES,
        CALENDAR_LOADED,
        ENTERPRISE_REGISTERED,
        ENTERPRISE_VERIFIED,
        LEDGER_WITNESS_ALARM,
        USAGE_EXPORT_READ,
        ANNUAL_KEPT,
    }
)

Receiver = Callable[..., Any]

_receivers: defaultdict[str, list[Receiver]] = defaultdict(list)


def register(hook: str, receiver: Receiver) -> None:
    """Let ``receiver`` act on ``hook``; registering the same receiver twice is a no-op."""
    if hook not in HOOKS:
        raise ValueError(f"unknown hook {hook!r}")
    if receiver not in _receivers[hook]:
        _receivers[hook].append(receiver)


def unregister(hook: str, receiver: Receiver) -> None:
    if receiver in _receivers[hook]:
        _receivers[hook].remove(receiver)


def receivers(hook: str) -> list[Receiver]:
    return list(_receivers[hook])


def announce(hook: str, **payload: Any) -> None:
    """Deliver ``hook`` to every receiver once the current transaction commits (at once outside one)."""
    if hook not in HOOKS:
        raise ValueError(f"unknown hook {hook!r}")
    for receiver in receivers(hook):
        transaction.on_commit(_delivery(receiver, payload), robust=True)


def _delivery(receiver: Receiver, payload: dict[str, Any]) -> Callable[[], None]:
    def deliver() -> None:
        receiver(**payload)

    # Django names the callback when it logs a failure.
    deliver.__qualname__ = getattr(receiver, "__qualname__", repr(receiver))
    return deliver


def collect(hook: str, **payload: Any) -> list[Any]:
    """Every receiver's answer to ``hook`` now, in registration order; ``None`` answers are dropped."""
    if hook not in HOOKS:
        raise ValueError(f"unknown hook {hook!r}")
    answers = (receiver(**payload) for receiver in receivers(hook))
    return [answer for answer in answers if answer is not None]
