"""Platform-wide records that belong to no business domain."""

from __future__ import annotations

from django.conf import settings
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
    """One e-mail in the outbox (``core.notifications``): written in the transaction of the action that
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


class Notification(models.Model):
    """An in-app message in a user's inbox (站内消息); the same text is also e-mailed (``core.notifications``).

    The table keeps the name it had when the review app owned the model."""

    class Kind(models.TextChoices):
        SUBMISSION_RECEIPT = "submission_receipt", _("受理回执")
        SUPPLEMENT_NOTICE = "supplement_notice", _("补正告知")
        APPROVAL = "approval", _("审批通过")
        REJECTION = "rejection", _("未通过")
        PAYMENT = "payment", _("补贴已兑现")
        RESUBMITTED = "resubmitted", _("企业已补正")
        REMINDER = "reminder", _("办理期限提醒")
        DATA_NOTICE = "data_notice", _("核查数据告知")
        OBJECTION = "objection", _("企业异议")
        FINDING_DECISION = "finding_decision", _("核查结论")
        CLAWBACK = "clawback", _("补贴追回")
        BLACKLIST = "blacklist", _("列入黑名单")
        REGISTRATION = "registration", _("企业注册")
        VERIFICATION = "verification", _("企业核验结果")
        RATING_REQUEST = "rating_request", _("办件评价邀请")
        RATING_FOLLOW_UP = "rating_follow_up", _("差评回访")
        FOLLOW_UP_REPLY = "follow_up_reply", _("差评回访答复")
        OFFER = "offer", _("补助推送")
        OFFER_REMINDER = "offer_reminder", _("补助申报提醒")
        OFFER_EXPIRED = "offer_expired", _("补助推送已过期")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("接收人"),
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    application = models.ForeignKey(
        "applications.Application",
        verbose_name=_("申请"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    kind = models.CharField(_("类别"), max_length=24, choices=Kind.choices)
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"))
    link = models.CharField(_("链接"), max_length=200, blank=True)
    read_at = models.DateTimeField(_("阅读时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        db_table = "review_notification"
        verbose_name = _("站内消息")
        verbose_name_plural = _("站内消息")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="review_notification_unread")]

    def __str__(self) -> str:
        return self.title


class SmsMessage(models.Model):
    """One text message to one person (the notice's third channel, ``core.notifications``), and how its
    delivery went. The number is kept masked; the full one travels only in the queued task."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("待发送")
        SENT = "sent", _("已发送")
        FAILED = "failed", _("发送失败")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("接收人"), on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(_("模板"), max_length=30, choices=Notification.Kind.choices)
    phone_masked = models.CharField(_("手机号（脱敏）"), max_length=20)
    text = models.CharField(_("内容"), max_length=70)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    last_error = models.CharField(_("最近一次错误"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)

    class Meta:
        db_table = "review_smsmessage"
        verbose_name = _("短信")
        verbose_name_plural = _("短信")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.phone_masked} {self.kind}"
