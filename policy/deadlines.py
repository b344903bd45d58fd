"""Open deadlines that loading an official holiday year would move (the preview and the recompute).

Deadlines live in the apps that own them (the apply deadline of a draft in applications, the
review, payment and cycle deadlines in review, the objection deadline in audits), and those apps
sit above policy. So each registers a receiver of :data:`core.hooks.CALENDAR_MOVES`: given
the calendar state before and after the load, it answers the :class:`Move` of every open
deadline whose official date differs from the one shown until now. The loading action collects
them for the preview, runs each move's ``store`` in its transaction (a stored date such as the
objection deadline), and announces :data:`core.hooks.CALENDAR_LOADED` so that the people
concerned are told after commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core import hooks
from policy.calendar import CalendarState


@dataclass(frozen=True)
class Move:
    """One open deadline the official schedule changes.

    ``official`` is what the official schedule alone gives; ``after`` is the settled date (an
    enterprise's deadline keeps the later, the center's the earlier), so ``after`` may equal
    ``before`` when the official date moved the way doubt does not allow.
    """

    key: str
    label: str  # 申报截止日, 审核期限, 兑现期限, 兑现周期截止, 异议截止日
    subject: str  # the record, for people: "申请 YD-2026-0001（龙城夜雨）"
    party: str  # policy.calendar.ENTERPRISE or CENTER
    before: dt.date
    official: dt.date
    after: dt.date
    provisional_after: bool = False
    user_ids: tuple[int, ...] = ()
    application_id: int | None = None
    link: str = ""
    store: Callable[[], None] | None = field(default=None, compare=False, repr=False)

    @property
    def moved(self) -> bool:
        return self.after != self.before

    @property
    def kept(self) -> bool:
        """The official date moved, but the settled date stays (doubt favours the enterprise)."""
        return self.official != self.before and self.after == self.before

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "subject": self.subject,
            "party": self.party,
            "before": self.before.isoformat(),
            "official": self.official.isoformat(),
            "after": self.after.isoformat(),
            "moved": self.moved,
            "provisional_after": self.provisional_after,
            "user_ids": list(self.user_ids),
            "application_id": self.application_id,
            "link": self.link,
        }


def moves_between(before: CalendarState, after: CalendarState, today: dt.date) -> list[Move]:
    """Every open deadline whose official date under ``after`` differs from its date under ``before``."""
    found: list[Move] = []
    for answer in hooks.collect(hooks.CALENDAR_MOVES, before=before, after=after, today=today):
        found.extend(answer)
    found.sort(key=lambda m: (m.before, m.key))
    return found
