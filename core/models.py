"""Platform-wide records that belong to no business domain."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class PeriodicRun(models.Model):
    """One run of a periodic job for one slot of its schedule (see ``core.periodic``).

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


class OutboxEmail(models.Model):
    """One e-mail in the outbox (``core.outbox``): written in the transaction of the action that
    sends it, delivered by the background worker, marked sent once the mail server accepted it.

    ``message_id`` is the ``Message-ID`` header of every try, so that a message sent again after a
    worker died between the server's acceptance and the mark is recognisable as the same one.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("待发送")
        SENT = "sent", _("已发送")
        FAILED = "failed", _("发送失败")

    message_id = models.CharField(_("邮件标识"), max_length=200, unique=True)
    subject = models.CharField(_("主题"), max_length=500)
    body = models.TextField(_("正文"))
    from_email = models.CharField(_("发件人"), max_length=200)
    recipients = models.JSONField(_("收件人"), default=list)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    last_error = models.CharField(_("最近一次错误"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    attempted_at = models.DateTimeField(_("最近尝试时间"), null=True, blank=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("待发邮件")
        verbose_name_plural = _("待发邮件")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"], name="outbox_email_status")]

    def __str__(self) -> str:
        return f"{self.message_id} {self.status}"
