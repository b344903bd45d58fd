"""Platform-wide records that belong to no business domain."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class PeriodicRun(models.Model):
    """One run of a periodic job for one slot of its schedule (see ``yingdu.periodic``).

    The unique (job, slot) key is the lock: however many background workers enqueue the job for
    the same slot, only the first one to insert the row runs it.
    """

    job = models.CharField(_("任务"), max_length=200)
    slot = models.DateTimeField(_("计划时间"))
    worker = models.CharField(_("执行进程"), max_length=200, blank=True)
    started_at = models.DateTimeField(_("开始时间"), auto_now_add=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("定时任务执行记录")
        verbose_name_plural = _("定时任务执行记录")
        ordering = ["-slot", "job"]
        constraints = [models.UniqueConstraint(fields=["job", "slot"], name="periodic_run_once_per_slot")]

    def __str__(self) -> str:
        return f"{self.job} @ {self.slot:%Y-%m-%d %H:%M}"
