"""``message_html``: a notice's plain text (the same text as its e-mail) as HTML for the inbox.

The text is escaped first; then paragraphs become ``<p>``, line breaks ``<br>``, and every web
address a link. Addresses on this platform become site-relative, so they work on whatever host
the inbox is opened.
"""

from __future__ import annotations

import re

from django import template
from django.conf import settings
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

URL = re.compile(r"https?://[^\s<>\"'，。；）]+")


def _link(match: re.Match[str]) -> str:
    url = match.group(0)
    site = settings.SITE_URL.rstrip("/")
    href = url[len(site) :] or "/" if url.startswith(site + "/") or url == site else url
    return f'<a href="{href}">{url if href == url else href}</a>'


@register.filter
def message_html(text: str) -> SafeString:
    paragraphs = [p for p in re.split(r"\n\s*\n", str(text or "").strip()) if p.strip()]
    html = []
    for paragraph in paragraphs:
        escaped = URL.sub(_link, str(escape(paragraph)))
        html.append("<p>" + escaped.replace("\n", "<br>") + "</p>")
    return mark_safe("".join(html))  # noqa: S308 - every part was escaped above
