"""The demo year, played once per test session for the tests that read it (``demo_year`` fixture).

Playing the year (``yingdu demo``) takes about a minute, so it is played once, at :data:`DEMO_NOW`.
On PostgreSQL it is played into a database of its own, made from the empty test database
(``CREATE DATABASE … TEMPLATE``); each test that reads it gets a fresh copy of that database (a file
copy, well under a second) while its connections, the live server's included, point there, so a
test that writes breaks no other. On SQLite (the quick lane) each such test plays the year itself.

A test using ``demo_year`` is transactional (``@pytest.mark.django_db(transaction=True)``) and runs
at :data:`DEMO_NOW`, the clock ticking (time-machine), as the year was played then::

    @pytest.mark.django_db(transaction=True)
    def test_it_reads_the_year(demo_year: PlayedDemo) -> None:
        assert Application.objects.exists()
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import time_machine

# Mid-December: the year's deadlines run into a next year without an official schedule.
DEMO_NOW = dt.datetime(2026, 12, 15, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@dataclass
class PlayedDemo:
    """What playing the year left beside its database: the command's listing and the e-mails sent."""

    output: str
    media_root: str
    mails: list[tuple[str, str]] = field(default_factory=list)
    database: str = ""


def play(media_root: str) -> PlayedDemo:
    """Play ``yingdu demo`` at :data:`DEMO_NOW` into the current database, its files into ``media_root``."""
    from django.core import mail
    from django.core.management import call_command
    from django.test.utils import override_settings

    before = len(getattr(mail, "outbox", []))
    out = io.StringIO()
    with time_machine.travel(DEMO_NOW, tick=False), override_settings(MEDIA_ROOT=media_root):
        call_command("demo", stdout=out)
    sent = getattr(mail, "outbox", [])[before:]
    return PlayedDemo(
        output=out.getvalue(), media_root=media_root, mails=[(str(m.subject), str(m.body)) for m in sent]
    )


def _copy_database(source: str, target: str) -> None:
    """``target`` made afresh as a copy of ``source`` (nobody may be connected to ``source``)."""
    from django.db import connection

    with connection._nodb_cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [source],
        )
        cursor.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')


def _drop_database(name: str) -> None:
    from django.db import connection

    with connection._nodb_cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def _connected_to(name: str) -> Iterator[None]:
    """Every connection opened meanwhile, in any thread, goes to database ``name``."""
    from django.db import connection, connections

    previous = connection.settings_dict["NAME"]
    connections.close_all()
    connection.settings_dict["NAME"] = name  # the dict every thread's connection is made from
    try:
        yield
    finally:
        connections.close_all()
        connection.settings_dict["NAME"] = previous


@pytest.fixture(scope="session")
def played_demo(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PlayedDemo | None]:
    """The year played once into a database of its own (PostgreSQL); None on SQLite."""
    from django.db import connection, connections

    if connection.vendor != "postgresql":
        yield None
        return
    media_root = str(tmp_path_factory.mktemp("demo-media"))
    with django_db_blocker.unblock():
        test_database = connection.settings_dict["NAME"]
        template = f"{test_database}_demo"
        connections.close_all()
        _copy_database(test_database, template)
        with _connected_to(template):
            played = play(media_root)
    played.database = template
    try:
        yield played
    finally:
        with django_db_blocker.unblock():
            _drop_database(template)


@pytest.fixture
def demo_year(
    played_demo: PlayedDemo | None, transactional_db: None, settings: Any, tmp_path: Path
) -> Iterator[PlayedDemo]:
    """The demo year played at :data:`DEMO_NOW`, the test's own copy; the test runs at that time."""
    from policy.calendar import clear_calendar_cache

    if played_demo is None:
        played = play(str(settings.MEDIA_ROOT))
        with time_machine.travel(DEMO_NOW, tick=True):
            yield played
        return
    settings.MEDIA_ROOT = played_demo.media_root
    copy = f"{played_demo.database}_copy"
    _copy_database(played_demo.database, copy)
    try:
        with _connected_to(copy), time_machine.travel(DEMO_NOW, tick=True):
            clear_calendar_cache()
            yield played_demo
    finally:
        clear_calendar_cache()
        _drop_database(copy)
