"""Holiday schedules loaded by an administrator, for years ``chinesecalendar`` does not know."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.lib.workdays import YearSchedule


class HolidayYear(models.Model):
    """One year's State Council holiday schedule (国务院节假日安排), loaded from a file (docs/deadlines.md).

    A loaded year overrides the ``chinesecalendar`` package for that year. Rows are written only by
    :func:`policy.actions.load_holiday_year`, which validates the file and records an audit event.
    Dates are stored as ISO strings in sorted lists.
    """

    year = models.PositiveSmallIntegerField(_("年份"), unique=True)
    source = models.CharField(_("依据文件"), max_length=300)
    holidays = models.JSONField(_("放假日期"), default=list, help_text=_("本应上班而放假的日期"))
    workdays = models.JSONField(_("调休上班日期"), default=list, help_text=_("周末调休上班的日期"))
    loaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("载入人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    loaded_at = models.DateTimeField(_("载入时间"))

    class Meta:
        verbose_name = _("节假日安排")
        verbose_name_plural = _("节假日安排")
        ordering = ["year"]

    def __str__(self) -> str:
        return str(_("%(year)s年节假日安排")) % {"year": self.year}

    def schedule(self) -> YearSchedule:
        return YearSchedule(
            self.year, frozenset(self.holiday_dates()), frozenset(self.workday_dates()), source=self.source
        )

    def holiday_dates(self) -> list[dt.date]:
        return [dt.date.fromisoformat(d) for d in self.holidays]

    def workday_dates(self) -> list[dt.date]:
        return [dt.date.fromisoformat(d) for d in self.workdays]

    def as_dict(self) -> dict[str, object]:
        """The schedule in the load-file shape (audit events, ``calendar show``)."""
        return {
            "year": self.year,
            "source": self.source,
            "holidays": list(self.holidays),
            "workdays": list(self.workdays),
        }
