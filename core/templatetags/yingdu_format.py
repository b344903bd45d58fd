"""Template filters of :mod:`core.formats`: ``money`` (5,000,000.00), ``cn_date`` (2026年10月10日)
and ``cn_datetime`` (2026年10月10日 08:00). Every app's templates load them from here."""

from __future__ import annotations

from typing import Any

from django import template

from core.formats import date_text, datetime_text, money_text

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
    from core.validators import mask_phone

    return mask_phone(str(value)) if value else ""


@register.simple_tag
def authority_name() -> str:
    """The issuing authority's full name, from its one setting (``AUTHORITY_NAME``)."""
    from django.conf import settings

    return str(settings.AUTHORITY_NAME)


@register.filter
def workdays_left(value: Any) -> str:
    """Working days to a deadline as a person reads them: ``剩余 3 个工作日``, ``今天截止``, or
    ``已逾期 96 个工作日`` — never a negative count."""
    from django.utils.translation import gettext as _

    if value is None or value == "":
        return ""
    days = int(value)
    if days > 0:
        return _("剩余 %(n)d 个工作日") % {"n": days}
    if days == 0:
        return _("今天截止")
    return _("已逾期 %(n)d 个工作日") % {"n": -days}

