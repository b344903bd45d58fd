"""The demo's state: its first day, its cast of users, keys and applications, and the events to play."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accounts.models import User
from applications.models import Application
from enterprises.models import Provider
from policy.calendar import get_calendar

POLICY_START = dt.date(2026, 2, 5)
PREFIX = "DEMO-"
CST = dt.timezone(dt.timedelta(hours=8))


@dataclass
class Demo:
    """The demo's cast and plan; ``events`` are (day, order, callable) played in date order."""

    start: dt.date
    today: dt.date
    users: dict[str, User] = field(default_factory=dict)
    keys: dict[str, tuple[Provider, str, Ed25519PrivateKey]] = field(default_factory=dict)
    apps: dict[int, Application] = field(default_factory=dict)
    events: list[tuple[dt.date, int, Callable[[], object]]] = field(default_factory=list)
    paid_on: dict[int, dt.date] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    def day(self, offset: int) -> dt.date:
        """The working day ``offset`` working days after the first demo day, never after today."""
        return min(get_calendar().add_workdays(self.start, max(offset, 0)), self.today)

    def at(self, day: dt.date, action: Callable[[], object]) -> None:
        self.events.append((day, len(self.events), action))


def window(today: dt.date) -> dt.date:
    """The first demo day: a year ago, or the policy's first day when that is later."""
    return max(today - dt.timedelta(days=365), POLICY_START)
