"""Review and disbursement records (docs/states.md): steps, supplement notices, on-site checks, payments,
the applicant's inbox, and the enterprise's rating of an ended case with the center's follow-up of a
poor one (docs/ratings.md). The enterprise-year record of the annual cap is the applications app's
(``applications.money``).

Rows here are written only by ``review.actions``; nothing happens in ``save()``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from applications.states import Status

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise


class Level(models.IntegerChoices):
    """The three review levels of docs/states.md; each must be done by a different person."""

    NONE = 0, _("非审核环节")
    INITIAL = 1, _("初审")
    RE_REVIEW = 2, _("复审")
    FINAL = 3, _("最终审批")


class ReviewStep(models.Model):
    """One transition taken on an application: who, when, with which opinion, from which state to which.

    The separation-of-duties rule reads these rows: a person who took a step of one level may
    not take a step of another level of the same application.
    """

    application = models.ForeignKey(
        "applications.Application", verbose_name=_("申请"), on_delete=models.PROTECT, related_name="steps"
    )
    transition = models.CharField(_("操作"), max_length=32)
    level = models.PositiveSmallIntegerField(_("审核层级"), choices=Level.choices, default=Level.NONE)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("操作人"), on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(_("时间"))
    opinion = models.TextField(_("意见"), blank=True)
    status_before = models.CharField(_("操作前状态"), max_length=24, choices=Status.choices)
    status_after = models.CharField(_("操作后状态"), max_length=24, choices=Status.choices)
    data = models.JSONField(_("附加信息"), default=dict, blank=True)

    class Meta:
        verbose_name = _("审核记录")
        verbose_name_plural = _("审核记录")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["application", "level", "actor"], name="review_step_sod")]

    def __str__(self) -> str:
        return f"{self.application_id} {self.transition} {self.actor_id}"


class SupplementNotice(models.Model):
    """一次性告知: one notice listing every missing or defective item at once (docs/states.md).

    The review clock pauses from ``notice_date`` (exclusive) to ``resubmitted_date`` (inclusive)
    (docs/deadlines.md). ``changed_items`` holds the item codes the applicant changed when resubmitting;
    a later notice may only name those.
    """

    application = models.ForeignKey(
        "applications.Application",
        verbose_name=_("申请"),
        on_delete=models.PROTECT,
        related_name="supplement_notices",
    )
    round = models.PositiveSmallIntegerField(_("告知轮次"))
    note = models.TextField(_("总体说明"), blank=True)
    notice_date = models.DateField(_("告知日期"))
    resubmitted_date = models.DateField(_("补正提交日期"), null=True, blank=True)
    response_note = models.TextField(_("企业补正说明"), blank=True)
    changed_items = models.JSONField(_("补正变更事项"), default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("告知人"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("补正告知")
        verbose_name_plural = _("补正告知")
        ordering = ["application", "round"]
        constraints = [
            models.UniqueConstraint(fields=["application", "round"], name="unique_supplement_round"),
            models.CheckConstraint(
                condition=Q(resubmitted_date__isnull=True) | Q(resubmitted_date__gte=F("notice_date")),
                name="supplement_resubmitted_after_notice",
            ),
        ]

    def __str__(self) -> str:
        return _("%(application)s 第%(round)s次告知") % {
            "application": self.application_id,
            "round": self.round,
        }

    @property
    def pause(self) -> tuple[object, object]:
        return (self.notice_date, self.resubmitted_date)


class SupplementItem(models.Model):
    """One item of a notice: a material or a form row, with the reviewer's text and the applicant's answer."""

    class Kind(models.TextChoices):
        MATERIAL = "material", _("材料")
        ROW = "row", _("表单项")

    notice = models.ForeignKey(SupplementNotice, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(_("类别"), max_length=10, choices=Kind.choices)
    code = models.CharField(_("事项代码"), max_length=40)
    label = models.CharField(_("事项"), max_length=100)
    text = models.TextField(_("补正要求"), blank=True)
    answer = models.TextField(_("企业答复"), blank=True)
    changed = models.BooleanField(_("补正时已变更"), default=False)

    class Meta:
        verbose_name = _("补正事项")
        verbose_name_plural = _("补正事项")
        ordering = ["notice", "id"]
        constraints = [
            models.UniqueConstraint(fields=["notice", "kind", "code"], name="unique_supplement_item")
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def item_code(self) -> str:
        return f"{self.kind}:{self.code}"


class OnSiteCheck(models.Model):
    """实地核查: recorded during initial review; the clock keeps running (docs/states.md)."""

    application = models.ForeignKey(
        "applications.Application",
        verbose_name=_("申请"),
        on_delete=models.PROTECT,
        related_name="site_checks",
    )
    date = models.DateField(_("核查日期"))
    people = models.CharField(_("核查人员"), max_length=200)
    findings = models.TextField(_("核查情况"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("记录人"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("实地核查")
        verbose_name_plural = _("实地核查")
        ordering = ["date", "id"]

    def __str__(self) -> str:
        return f"{self.application_id} {self.date}"


class OnSiteAttachment(models.Model):
    """A file of an on-site check, stored under a generated name (``core.uploads``)."""

    check_record = models.ForeignKey(OnSiteCheck, on_delete=models.PROTECT, related_name="attachments")
    file = models.FileField(_("文件"), max_length=200)
    original_name = models.CharField(_("原文件名"), max_length=120)
    mime = models.CharField(_("类型"), max_length=100)
    size = models.PositiveIntegerField(_("大小（字节）"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)

    class Meta:
        verbose_name = _("核查附件")
        verbose_name_plural = _("核查附件")

    def __str__(self) -> str:
        return self.original_name


class Payment(models.Model):
    """兑现: the disbursement finance recorded. The amount equals the granted amount (docs/states.md).

    ``granted_amount`` is copied from the application when the payment is recorded so the
    database itself can check the equality.
    """

    application = models.OneToOneField(
        "applications.Application", verbose_name=_("申请"), on_delete=models.PROTECT, related_name="payment"
    )
    date = models.DateField(_("兑现日期"))
    amount = models.DecimalField(_("兑现金额（元）"), max_digits=12, decimal_places=2)
    granted_amount = models.DecimalField(_("核定补贴金额（元）"), max_digits=12, decimal_places=2)
    bank_reference = models.CharField(_("银行流水号"), max_length=64)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("登记人"), on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("兑现记录")
        verbose_name_plural = _("兑现记录")
        ordering = ["-date", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount=F("granted_amount")), name="payment_equals_grant"),
            models.CheckConstraint(condition=Q(amount__gt=Decimal("0")), name="payment_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.application_id} {self.amount}"




class DeadlineReminder(models.Model):
    """A reminder sent to one staff member about one application on one day; makes reminders idempotent."""

    application = models.ForeignKey("applications.Application", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField(_("提醒日期"))
    due = models.DateField(_("办理期限"))

    class Meta:
        verbose_name = _("期限提醒")
        verbose_name_plural = _("期限提醒")
        constraints = [
            models.UniqueConstraint(fields=["application", "user", "day"], name="unique_reminder_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.application_id} {self.user_id} {self.day}"


def notices_of(application_id: int) -> models.QuerySet[SupplementNotice]:
    """The supplement notices of one application, oldest first."""
    return SupplementNotice.objects.filter(application_id=application_id).order_by("round")


def notices_by_application(
    application_ids: list[int], among: models.QuerySet[Any] | None = None
) -> dict[int, list[SupplementNotice]]:
    """The notices of many applications in one query (for queues), by application id.

    ``among``: the query that listed the applications, sent as a subquery instead of thousands
    of ids (each id is a parameter Django prepares one by one)."""
    out: dict[int, list[SupplementNotice]] = {pk: [] for pk in application_ids}
    wanted: Any = among.values("pk") if among is not None else application_ids
    for notice in SupplementNotice.objects.filter(application_id__in=wanted).order_by("round"):
        out.setdefault(notice.application_id, []).append(notice)
    return out


class Satisfaction(models.IntegerChoices):
    """The five levels of 好差评 (国办发〔2019〕51号), best first; the value is the score for averages."""

    VERY_SATISFIED = 5, _("非常满意")
    SATISFIED = 4, _("满意")
    FAIRLY_SATISFIED = 3, _("基本满意")
    DISSATISFIED = 2, _("不满意")
    VERY_DISSATISFIED = 1, _("非常不满意")


# The levels that open a follow-up (差评).
POOR = frozenset({Satisfaction.DISSATISFIED, Satisfaction.VERY_DISSATISFIED})

# The rated dimensions (docs/ratings.md, after GB/T 39734-2020 §5): field name -> label.
DIMENSIONS: dict[str, _StrPromise] = {
    "guidance": _("办事指南与告知清晰"),
    "convenience": _("办事便捷度"),
    "efficiency": _("办理效率"),
    "attitude": _("服务态度"),
    "overall": _("整体满意度"),
}


class Rating(models.Model):
    """好差评: the enterprise's one rating of a case that ended (paid, rejected or withdrawn after
    submission), each dimension on the five levels; ``overall`` is the rating's level.

    One per application (``OneToOneField``: the database refuses a second). Written only by
    ``review.ratings.rate_application``.
    """

    application = models.OneToOneField(
        "applications.Application", verbose_name=_("申请"), on_delete=models.PROTECT, related_name="rating"
    )
    guidance = models.PositiveSmallIntegerField(DIMENSIONS["guidance"], choices=Satisfaction.choices)
    convenience = models.PositiveSmallIntegerField(DIMENSIONS["convenience"], choices=Satisfaction.choices)
    efficiency = models.PositiveSmallIntegerField(DIMENSIONS["efficiency"], choices=Satisfaction.choices)
    attitude = models.PositiveSmallIntegerField(DIMENSIONS["attitude"], choices=Satisfaction.choices)
    overall = models.PositiveSmallIntegerField(DIMENSIONS["overall"], choices=Satisfaction.choices)
    comment = models.CharField(_("评价意见"), max_length=500, blank=True)
    rated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("评价人"), on_delete=models.PROTECT, related_name="+"
    )
    rated_at = models.DateTimeField(_("评价时间"))

    class Meta:
        verbose_name = _("办件评价")
        verbose_name_plural = _("办件评价")
        ordering = ["-rated_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(**{f"{name}__gte": 1}) & Q(**{f"{name}__lte": 5}), name=f"rating_{name}_level"
            )
            for name in DIMENSIONS
        ]

    def __str__(self) -> str:
        return f"{self.application_id} {self.get_overall_display()}"

    @property
    def poor(self) -> bool:
        return self.overall in POOR


class RatingFollowUp(models.Model):
    """整改/回访 of a poor rating: the approver (审批负责人, who signs the third review level) answers
    in writing by a deadline of working days (``deadline.rating_follow_up_workdays``), counted from
    ``opened_on``; the enterprise reads the answer on its application page."""

    class Status(models.TextChoices):
        OPEN = "open", _("待回访")
        CLOSED = "closed", _("已回访")

    rating = models.OneToOneField(
        Rating, verbose_name=_("评价"), on_delete=models.PROTECT, related_name="follow_up"
    )
    opened_on = models.DateField(_("发起日期"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.OPEN)
    response = models.TextField(_("回访答复"), blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("答复人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    closed_at = models.DateTimeField(_("答复时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("差评回访")
        verbose_name_plural = _("差评回访")
        ordering = ["opened_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(status="open") & Q(closed_at__isnull=True))
                | (Q(status="closed") & Q(closed_at__isnull=False) & ~Q(response="")),
                name="follow_up_closed_with_response",
            )
        ]

    def __str__(self) -> str:
        return f"{self.rating_id} {self.status}"


class PayeeAccount(models.Model):
    """An enterprise's 对公账户 for the subsidy (docs/payments.md): the account name equals the
    enterprise's registered name, with its bank and 12-digit 联行号. Verified by center staff like the
    licence; a change is a new row verified again, and the latest verified row is the payee."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待核验")
        VERIFIED = "verified", _("已核验")
        REJECTED = "rejected", _("未通过核验")

    enterprise = models.ForeignKey(
        "enterprises.Enterprise", verbose_name=_("企业"), on_delete=models.PROTECT, related_name="payee_accounts"
    )
    account_name = models.CharField(_("户名"), max_length=100)
    account_number = models.CharField(_("账号"), max_length=40)
    bank_name = models.CharField(_("开户行"), max_length=100)
    bank_code = models.CharField(_("联行号"), max_length=12)
    status = models.CharField(_("核验状态"), max_length=10, choices=Status.choices, default=Status.PENDING)
    note = models.CharField(_("核验意见"), max_length=300, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("提交人"), on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField(_("提交时间"))
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("核验人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    verified_at = models.DateTimeField(_("核验时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("对公收款账户")
        verbose_name_plural = _("对公收款账户")
        ordering = ["enterprise_id", "-submitted_at", "-id"]

    def __str__(self) -> str:
        return f"{self.account_name} {self.bank_name} {self.account_number}"


class PaymentInstruction(models.Model):
    """A payment instruction (支付申请) finance batches from approved applications, exported for the
    budget-management system as XLSX, a signed PDF and CSV (docs/payments.md)."""

    number = models.CharField(_("支付申请编号"), max_length=20, unique=True, null=True, blank=True)
    budget_line = models.CharField(_("预算项目"), max_length=100)
    total = models.DecimalField(_("合计金额（元）"), max_digits=14, decimal_places=2)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("编制人"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("编制时间"))

    class Meta:
        verbose_name = _("支付申请")
        verbose_name_plural = _("支付申请")
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.number or str(self.pk)


class PaymentInstructionItem(models.Model):
    """One application of a payment instruction, with the verified payee account it is paid to; the
    payment recorded for it refers back here."""

    instruction = models.ForeignKey(
        PaymentInstruction, verbose_name=_("支付申请"), on_delete=models.PROTECT, related_name="items"
    )
    application = models.OneToOneField(
        "applications.Application",
        verbose_name=_("申请"),
        on_delete=models.PROTECT,
        related_name="payment_instruction_item",
    )
    payee = models.ForeignKey(PayeeAccount, verbose_name=_("收款账户"), on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(_("金额（元）"), max_digits=12, decimal_places=2)
    payment = models.OneToOneField(
        Payment,
        verbose_name=_("兑现记录"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="instruction_item",
    )

    class Meta:
        verbose_name = _("支付申请明细")
        verbose_name_plural = _("支付申请明细")
        ordering = ["instruction_id", "id"]

    def __str__(self) -> str:
        return f"{self.instruction} {self.application_id}"
