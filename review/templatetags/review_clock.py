"""``clock_start``: beside a receipt date, the day its deadlines start counting (docs/deadlines.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.utils.translation import gettext as _

from core.formats import date_text
from core.lib.workdays import UnknownYearError
from policy.calendar import get_calendar

register = template.Library()

WEEKDAYS = "一二三四五六日"  # i18n: data


@register.filter
def clock_start(received: Any) -> str:
    """The first working day after ``received``, day 1 of every deadline counted from it: a receipt
    on a Saturday reads "非工作日，时限自 2026年12月7日（星期一）起算"."""
    if not isinstance(received, dt.date):
        return ""
    calendar = get_calendar()
    try:
        first = calendar.add_workdays(received, 1)
        workday = calendar.is_workday(received)
    except UnknownYearError:
        return ""
    note = _("时限自 %(date)s（星期%(weekday)s）起算") % {
        "date": date_text(first),
        "weekday": WEEKDAYS[first.weekday()],
    }
    return note if workday else _("非工作日，") + note
