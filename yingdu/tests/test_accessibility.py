"""Every page a demo persona can reach, in a real browser: axe-core finds no critical or serious
violation, at a 375 px phone viewport no page scrolls sideways, and no page, export or e-mail of
the demo shows an internal code, an English UI word, an ISO timestamp or an amount without 千分位
(``wording.py``).

The demo year is played once per test session (``testing.demo_year``), then each persona follows
the links of its own pages (same site, GET only, no downloads), one page per URL pattern, from the
workbench and the portal.
axe-core comes from the npm registry (``scripts/npm-deps.sh``, run by ``make test``).
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.apps import apps
from django.urls import Resolver404, resolve
from playwright.sync_api import Error as PlaywrightError

from accounts.models import User
from testing.browser import PHONE, axe_source, axe_violations, force_login
from testing.demo_year import PlayedDemo
from yingdu.tests import wording

ROOT = Path(__file__).resolve().parents[2]
# Links that are files, state changes or the way out, not pages.
SKIP = (
    ".xlsx",
    ".pdf",
    "/pdf/",
    ".csv",
    "/logout/",
    "/license/",
    "/attachments/",
    "/download",
    "/files/",
    "/evidence/",
)
PAGES_PER_PERSONA = 25
EXPORTS = (".xlsx", ".csv")
# The text a person reads: the page without scripts, code samples and the documentation of machine
# file formats (``data-format-doc``: field names and ISO times are the format), plus the names and
# hints that assistive technology reads out.
VISIBLE_TEXT = """() => {
  const copy = document.body.cloneNode(true);
  copy.querySelectorAll('script, style, code, pre, kbd, samp, template, [data-format-doc]').forEach(e => e.remove());
  const hints = Array.from(document.querySelectorAll('[title], [placeholder], [aria-label], img[alt]'))
    .map(e => [e.title, e.getAttribute('placeholder'), e.getAttribute('aria-label'), e.getAttribute('alt')]
      .filter(Boolean).join(' '));
  return document.title + '\\n' + copy.innerText + '\\n' + hints.join('\\n');
}"""
PER_PERSONA = {"workbench", "console:home", "review:workbench"}
START = ["/workbench/", "/", "/policy-info/", "/policy/calc/", "/review/inbox/"]


def _pattern(path: str) -> str:
    try:
        match = resolve(path)
    except Resolver404:
        return ""
    return match.view_name


def _links(page: Any, origin: str, exports: list[str] | None = None) -> list[str]:
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    out = []
    for href in hrefs:
        parts = urlsplit(href)
        if f"{parts.scheme}://{parts.netloc}" != origin or parts.path.startswith("/static/"):
            continue
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if not any(s in parts.path for s in SKIP):
            out.append(path)
        elif exports is not None and parts.path.endswith(EXPORTS):
            exports.append(path)
    return out


def _export_problems(page: Any, path: str, who: str) -> list[str]:
    """A linked export, fetched with the persona's session: its cells, as the wording rules say."""
    response = page.request.get(path)
    if response.status >= 400:
        return []
    where = f"{who} {path}"
    if urlsplit(path).path.endswith(".xlsx"):
        return wording.workbook_problems(response.body(), where)
    return wording.csv_problems(response.body(), where)


def _mail_problems(sent: list[tuple[str, str]]) -> list[str]:
    """The demo's e-mails (subject and body, as sent while it played) and the inbox notices it stored."""
    notification = apps.get_model("yingdu", "Notification")
    stored = [(str(title), str(body)) for title, body in notification.objects.values_list("title", "body")]
    assert sent or stored, "the demo sent no notice"
    return wording.mail_problems([*sent, *stored])


def _audience(user: User | None) -> str:
    if user is None:
        return "anonymous"
    if user.enterprise_id is not None:
        return f"enterprise-{user.enterprise.status if user.enterprise else ''}"
    return "provider" if user.provider_id is not None else "staff"


def _one_per_kind() -> list[User]:
    """One demo user for each combination of roles and enterprise state: two reviewers see the same pages."""
    chosen: dict[tuple[object, ...], User] = {}
    for user in User.objects.select_related("enterprise").order_by("id"):
        state = user.enterprise.status if user.enterprise is not None else ""
        chosen.setdefault((tuple(sorted(user.role_codes())), state), user)
    return list(chosen.values())


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_shows_no_serious_axe_violation_sideways_scroll_code_or_iso_time_on_any_persona_page(
    browser: Any, live_server: Any, demo_year: PlayedDemo
) -> None:
    axe = axe_source()
    origin = live_server.url
    problems: list[str] = _mail_problems(demo_year.mails)
    checked = 0
    seen: set[tuple[str, str]] = set()
    exported: set[str] = set()
    personas: list[User | None] = [None, *_one_per_kind()]
    for persona in personas:
        context = browser.new_context(base_url=origin, viewport=PHONE, locale="zh-CN", bypass_csp=True)
        context.set_default_timeout(15_000)
        page = context.new_page()
        try:
            if persona is not None:
                force_login(page, persona)
            who = persona.username if persona is not None else "anonymous"
            queue = deque(START)
            visited = 0
            exports: list[str] = []
            while queue and visited < PAGES_PER_PERSONA:
                path = queue.popleft()
                name = _pattern(urlsplit(path).path)
                # A page is visited once for each kind of visitor (staff, enterprise, provider,
                # anonymous); the workbenches differ by role and are visited by each persona.
                key = (name, persona.username if name in PER_PERSONA and persona else _audience(persona))
                if not name or key in seen:
                    continue
                seen.add(key)
                try:
                    response = page.goto(path, wait_until="domcontentloaded")
                except PlaywrightError as exc:  # a link that turned out to be a download
                    if "Download is starting" in str(exc):
                        continue
                    raise
                if (
                    response is None
                    or response.status >= 400
                    or "text/html" not in response.headers.get("content-type", "")
                ):
                    continue
                visited += 1
                width = int(page.evaluate("document.documentElement.scrollWidth"))
                if width > PHONE["width"]:
                    problems.append(f"{who} {path}: scrolls sideways ({width}px)")
                problems.extend(f"{who} {path}: {v}" for v in axe_violations(page, axe))
                problems.extend(wording.problems_in(page.evaluate(VISIBLE_TEXT), f"{who} {path}"))
                checked += 1
                queue.extend(_links(page, origin, exports))
            for path in exports:
                name = _pattern(urlsplit(path).path)
                if urlsplit(path).path.endswith("template.csv"):
                    continue  # a machine format's empty file: its header row is the field names
                if name == "review:payment_instruction_export":
                    continue  # the budget system's import format (docs/payments.md): plain amounts
                if name and name not in exported:
                    exported.add(name)
                    problems.extend(_export_problems(page, path, who))
        finally:
            context.close()
    assert checked > 30, checked
    assert exported, "no export was checked"
    assert not problems, "\n".join(problems)
