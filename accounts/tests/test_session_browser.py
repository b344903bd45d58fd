"""Signing in, in a real browser, cannot race: the unread badge every page fetches by itself answers
without a session cookie and leaves the session row as it was, and the sign-in helpers assert who is
signed in and refuse to put a second identity into one browser context."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.sessions.models import Session

from accounts.roles import Role
from testing.browser import force_login, login, signed_in_username
from testing.fixtures import make_enterprise, make_user


def session_cookie(page: Any) -> list[tuple[str, str, float]]:
    from django.conf import settings

    return [
        (c["name"], c["value"], c["expires"])
        for c in page.context.cookies()
        if c["name"] == settings.SESSION_COOKIE_NAME
    ]


def session_rows() -> list[tuple[str, str, Any]]:
    return list(
        Session.objects.order_by("session_key").values_list("session_key", "session_data", "expire_date")
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_unread_badge_answers_without_a_session_cookie_and_leaves_the_session_row(new_page: Any) -> None:
    user = make_user("alice", Role.APPLICANT, enterprise=make_enterprise())
    page = new_page()
    login(page, user)
    held: list[list[tuple[str, str, Any]]] = []

    def hold(route: Any) -> None:
        # The page's own request is under way: what the sessions hold before it reaches the server.
        held.append(session_rows())
        route.continue_()

    cookie_before = session_cookie(page)
    assert cookie_before, "signed in: the context holds a session cookie"
    page.route(re.compile(r"/review/inbox/unread/"), hold)
    with page.expect_response(lambda r: "/review/inbox/unread/" in r.url) as answer:
        page.goto("/applications/")
    badge = answer.value
    assert badge.ok
    # The answer's headers arrived, so the server is done with the session. The browser's cookie
    # jar, not the raw headers (whose event an intercepted request may never get), shows that
    # no cookie was set.
    assert session_cookie(page) == cookie_before
    assert held and session_rows() == held[0]
    assert signed_in_username(page) == "alice"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_force_login_refuses_a_context_already_signed_in_as_someone_else(new_page: Any) -> None:
    enterprise = make_enterprise()
    alice = make_user("alice", Role.APPLICANT, enterprise=enterprise)
    bob = make_user("bob", Role.APPLICANT, enterprise=enterprise)
    page = new_page()
    force_login(page, alice)
    with pytest.raises(AssertionError, match="open a new page for 'bob'"):
        force_login(page, bob)
    assert signed_in_username(page) == "alice"
    other = new_page()
    force_login(other, bob)
    assert signed_in_username(other) == "bob" and signed_in_username(page) == "alice"
