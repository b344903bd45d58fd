"""Template filters of :mod:`yingdu.formats`: ``money`` (5,000,000.00), ``cn_date`` (2026年10月10日)
and ``cn_datetime`` (2026年10月10日 08:00). Every app's templates load them from here."""

from __future__ import annotations

from typing import Any

from django import template

from yingdu.formats import date_text, datetime_text, money_text

register = template.Library()


@register.filter
def money(value: Any) -> str:
    return money_text(value)


@register.filter
def cn_date(value: Any) -> str:
    return date_text(value)


@register.filter
def cn_datetime(value: Any, arg: str = "") -> str:
    """``{{ moment|cn_datetime }}``; ``{{ moment|cn_datetime:"seconds" }}`` adds the seconds."""
    return datetime_text(value, seconds=arg == "seconds")


@register.filter
def masked_phone(value: Any) -> str:
    """A phone as staff see it (138****8000): the same rule as the review page's form rows."""
    from yingdu.validators import mask_phone

    return mask_phone(str(value)) if value else ""


@register.simple_tag
def authority_name() -> str:
    """The issuing authority's full name, from its one setting (``AUTHORITY_NAME``)."""
    from django.conf import settings

    return str(settings.AUTHORITY_NAME)
