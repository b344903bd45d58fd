"""``money`` for the reports' templates: the platform's one filter (``yingdu_format``)."""

from __future__ import annotations

from django import template

from core.templatetags.yingdu_format import money

register = template.Library()
register.filter("money", money)
