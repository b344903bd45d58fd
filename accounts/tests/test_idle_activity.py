"""Only what the user does keeps a session alive: the page's own background htmx GET (the unread
badge) leaves the session row exactly as it was and sends no cookie, so a late answer can never
hand a browser a session again; a GET the user makes, htmx or not, refreshes the idle clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.middleware import LAST_SEEN_KEY
from accounts.roles import Role
from testing.fixtures import make_enterprise, make_user

BACKGROUND = {"HX-Request": "true", "X-Background-Poll": "1"}


def signed_in_client() -> tuple[Client, str]:
    """A client whose user has just opened a page (the idle clock started), and its session key."""
    client = Client()
    client.force_login(make_user("alice", Role.APPLICANT, enterprise=make_enterprise()))
    assert client.get(reverse("applications:list")).status_code == 200
    key = client.session.session_key
    assert key is not None
    return client, key


def session_row(key: str) -> tuple[Any, ...]:
    """The whole stored row: key, data and expiry."""
    return (
        Session.objects.filter(session_key=key)
        .values_list("session_key", "session_data", "expire_date")
        .get()
    )


@pytest.mark.django_db
def test_it_leaves_the_session_row_unchanged_for_an_htmx_background_get() -> None:
    client, key = signed_in_client()
    before = session_row(key)
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        badge = client.get(reverse("review:inbox_unread"), headers=BACKGROUND)
    assert badge.status_code == 200
    assert settings.SESSION_COOKIE_NAME not in badge.cookies
    assert session_row(key) == before


@pytest.mark.django_db
def test_it_refreshes_the_idle_clock_for_an_htmx_get_the_user_makes() -> None:
    client, key = signed_in_client()
    before = session_row(key)
    seen = client.session[LAST_SEEN_KEY]
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        answer = client.get(reverse("policy:calc"), headers={"HX-Request": "true"})
    assert answer.status_code == 200
    after = session_row(key)
    assert after[2] > before[2]  # the expiry moved on
    assert client.session[LAST_SEEN_KEY] >= seen + 5 * 60


@pytest.mark.django_db
def test_it_counts_a_post_marked_as_a_background_poll_as_activity() -> None:
    client, key = signed_in_client()
    seen = client.session[LAST_SEEN_KEY]
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        client.post(reverse("review:inbox"), headers=BACKGROUND)
    assert client.session[LAST_SEEN_KEY] >= seen + 5 * 60
