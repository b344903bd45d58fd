"""Browser tests: a headless chromium (Playwright) driving the pytest-django live server.

Use the ``browser_page`` fixture (registered in the root ``conftest.py``) in a test marked
``@pytest.mark.browser`` and ``@pytest.mark.django_db(transaction=True)``::

    @pytest.mark.browser
    @pytest.mark.django_db(transaction=True)
    def test_it_submits(browser_page: Page, live_server: LiveServer) -> None:
        user = make_user("alice", Role.APPLICANT, enterprise=make_enterprise())
        login(browser_page, user)                 # the real login form
        browser_page.goto("/applications/")       # relative to live_server.url
        screenshot(browser_page, "applications/list")

A test that signs in more than one identity opens a page for each with the ``new_page`` fixture
(a browser context of its own: own cookies, nothing in flight from another identity's page);
``force_login`` refuses a context that already holds another identity's session.

Tests skip (not fail) when Playwright or the chromium binary is missing. The system chromium
is used, never a downloaded one: no network is needed.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM_PATH = os.environ.get("YINGDU_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS_DIR = Path(__file__).resolve().parent.parent / "artifacts"
# A phone's viewport: every page works at 375 px.
PHONE = {"width": 375, "height": 812}
AXE = Path(__file__).resolve().parent.parent / "build" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
# Playwright's default 30 s is long for a local server on a shared machine with two cores;
# a page that takes longer than this is a failure worth seeing quickly.
DEFAULT_TIMEOUT_MS = 15_000


@pytest.fixture
def browser() -> Iterator[Browser]:
    """A headless chromium for one test (starting it costs about a second).

    Not session-scoped on purpose: while Playwright's sync API is running, its event loop is
    registered in this thread and Django refuses every ORM call in it ("You cannot call this
    from an async context"), so a session-wide browser would break every later database test.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is a dev dependency
        pytest.skip("playwright is not installed")
    if not Path(CHROMIUM_PATH).exists():
        pytest.skip(f"chromium not found at {CHROMIUM_PATH}")
    # Nothing here is async; the flag only lets the test body use the ORM while the browser
    # runs. It is set for this test alone (a leaked flag fails `check --deploy`, async.E001).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS, headless=True
            )
            try:
                yield chromium
            finally:
                chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _new_context(browser: Browser, base_url: str, **options: Any) -> BrowserContext:
    settings: dict[str, Any] = {
        "base_url": base_url,
        "locale": "zh-CN",
        "timezone_id": "Asia/Shanghai",
        "accept_downloads": True,
        "viewport": {"width": 1280, "height": 900},
    }
    settings.update(options)
    context = browser.new_context(**settings)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    return context


@pytest.fixture
def browser_page(browser: Browser, live_server: Any) -> Iterator[Page]:
    """A fresh page (own cookies) whose relative URLs go to the live server; downloads allowed."""
    context = _new_context(browser, live_server.url)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def new_page(browser: Browser, live_server: Any) -> Iterator[Callable[..., Page]]:
    """Opens a page in a browser context of its own: one for each identity a test signs in.

    A context shared by two identities races: a response of the first one's page still in flight
    can hand the browser its session again after the switch. The keywords are Playwright's context
    options (``viewport=PHONE``, ``java_script_enabled=False``, ``bypass_csp=True``, …), over the
    defaults of :func:`browser_page`. Every context is closed at the end of the test.
    """
    contexts: list[BrowserContext] = []

    def open_page(**options: Any) -> Page:
        context = _new_context(browser, live_server.url, **options)
        contexts.append(context)
        return context.new_page()

    try:
        yield open_page
    finally:
        for context in contexts:
            context.close()


def login(page: Page, user: Any, password: str | None = None) -> None:
    """Sign ``user`` (a User or a username) in through the real login form and check who is signed in.

    The page first leaves for ``about:blank``, which aborts whatever the previous page still had in
    flight (an htmx badge answering late would otherwise set the previous identity's cookie again),
    then the context's cookies are cleared, so the form is always reached signed out. After the form
    the helper waits until the browser has left the login page and asserts, from the session the
    browser now holds, that ``user`` is the one signed in.
    """
    from testing.fixtures import PASSWORD

    username = user if isinstance(user, str) else user.username
    page.goto("about:blank")
    page.context.clear_cookies()
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password or PASSWORD)
    with page.expect_navigation():
        page.click("form button[type=submit]")
    if "/accounts/login/" in page.url:
        said = " ".join(page.locator(".errorlist, .messages").all_inner_texts())
        raise AssertionError(f"login as {username!r} failed: {page.url} {said}".rstrip())
    signed_in = signed_in_username(page)
    if signed_in != username:
        raise AssertionError(f"login as {username!r} left {signed_in!r} signed in")


def signed_in_username(page: Page) -> str | None:
    """The user name of the session whose cookie the page's browser context holds, or None."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import SESSION_KEY, get_user_model

    cookies = [c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME]
    if not cookies:
        return None
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=cookies[-1]["value"])
    user_id = store.get(SESSION_KEY)
    if user_id is None:
        return None
    user = get_user_model()._default_manager.filter(pk=user_id).first()
    return None if user is None else str(user.get_username())


def force_login(page: Page, user: Any) -> None:
    """Sign ``user`` in without the form: a server-side session put into the page's cookies.

    For tests about something other than login (and for staff whose login needs more steps). The
    page's context must not hold another identity's session already: each identity signs in in a
    context of its own (:func:`new_page`). Afterwards the helper asserts that ``user`` is signed in.
    """
    from django.conf import settings
    from django.test import Client

    username = str(user.get_username())
    holder = signed_in_username(page)
    if holder is not None and holder != username:
        raise AssertionError(
            f"the page's browser context is signed in as {holder!r}; open a new page for {username!r}"
        )
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": _base_url(page)}]
    )
    signed_in = signed_in_username(page)
    if signed_in != username:
        raise AssertionError(f"force_login as {username!r} left {signed_in!r} signed in")


def _base_url(page: Page) -> str:
    # Playwright does not expose the context's base_url; learn it from one navigation.
    if page.url.startswith("http"):
        match = re.match(r"^(https?://[^/]+)", page.url)
        assert match is not None
        return match.group(1)
    page.goto("/healthz")
    return _base_url(page)


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as ``artifacts/<name>.png`` (git-ignored) and return its path."""
    safe = re.sub(r"[^\w./-]", "_", name).strip("./") or "page"
    path = ARTIFACTS_DIR / f"{safe}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_source() -> str:
    if not AXE.exists():
        subprocess.run(["bash", str(Path(__file__).resolve().parent.parent / "scripts" / "npm-deps.sh")], check=True, timeout=300)  # noqa: S603, S607 - the project's own script
    return AXE.read_text()


def axe_violations(page: Any, axe: str) -> list[str]:
    page.add_script_tag(content=axe)
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => v.impact === 'critical' || v.impact === 'serious')"
        ".map(v => v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '))"
    )
    return list(result)
