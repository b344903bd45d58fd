"""Audit records (核查, docs/audits.md): reconciliation runs, quarterly spot checks, findings with their
data notices, objections and decisions, and clawbacks tracked to repayment.

Rows are written only by the actions in ``audits.findings``, ``audits.fraud``,
``audits.reconciliation`` and ``audits.spotchecks``; nothing happens in ``save()``. The blacklist is
the enterprise's own ``blacklisted``/``blacklist_reason``/``blacklisted_at`` fields.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from audits import rules
from audits.legal import clawback_deadline
from core.lib.money import display_money
from core.signatures import SignedFile


class ReconciliationRun(models.Model):
    """One reconciliation of an application against the monitored usage in the log (对账).

    The run records the checkpoint it read (records with ``leaf_index < checkpoint_tree_size``),
    so re-running against the same checkpoint gives the same flags; ``digest`` is the SHA-256 of
    the canonical JSON of inputs and flags, to compare runs at a glance.
    """

    class Trigger(models.TextChoices):
        SUBMISSION = "submission", _("提交时")
        FINAL_APPROVAL = "final_approval", _("最终审批前")
        ON_DEMAND = "on_demand", _("手动")
        BATCH = "batch", _("批量")
        SPOT_CHECK = "spot_check", _("抽查")

    application = models.ForeignKey(
        "applications.Application",
        verbose_name=_("申请"),
        on_delete=models.PROTECT,
        related_name="reconciliation_runs",
    )
    run_at = models.DateTimeField(_("对账时间"), db_index=True)
    trigger = models.CharField(_("触发方式"), max_length=16, choices=Trigger.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("发起人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    checkpoint_tree_size = models.BigIntegerField(_("检查点树大小"))
    checkpoint_root = models.CharField(_("检查点根哈希（十六进制）"), max_length=64)
    policy_version = models.CharField(_("政策参数版本"), max_length=20)
    tolerance = models.DecimalField(_("容差"), max_digits=6, decimal_places=4)
    settlement_amount = models.DecimalField(
        _("结算凭证金额（元）"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    declared = models.JSONField(_("申报数据"))
    monitored = models.JSONField(_("监控数据"))
    flags = models.JSONField(_("标记"), default=list)
    flag_count = models.PositiveSmallIntegerField(_("标记数"), default=0)
    severity = models.CharField(_("最高严重程度"), max_length=8, blank=True)
    digest = models.CharField(_("结果摘要"), max_length=64)

    class Meta:
        verbose_name = _("对账记录")
        verbose_name_plural = _("对账记录")
        ordering = ["-run_at", "-id"]
        indexes = [models.Index(fields=["application", "-run_at"], name="audits_recon_latest")]

    def __str__(self) -> str:
        from core.formats import datetime_text

        return str(_("%(time)s 对账，标记 %(count)d 项")) % {
            "time": datetime_text(self.run_at),
            "count": self.flag_count,
        }

    @property
    def flag_codes(self) -> list[str]:
        return [f["code"] for f in self.flags]


class SpotCheck(models.Model):
    """A quarter's random spot check (每季度随机抽查), drawn by the published algorithm of ``audits.rules``.

    Everything needed to recompute the sample is stored: the checkpoint (size, root, signed
    note), the seed, the parameters, the candidates and the sample, in order.
    """

    quarter = models.CharField(_("季度"), max_length=6, unique=True)
    checkpoint_tree_size = models.BigIntegerField(_("检查点树大小"))
    checkpoint_root = models.CharField(_("检查点根哈希（十六进制）"), max_length=64)
    checkpoint_note = models.TextField(_("签名检查点"))
    checkpoint_signed_at = models.DateTimeField(_("检查点签署时间"))
    seed = models.CharField(_("种子（十六进制）"), max_length=64)
    policy_version = models.CharField(_("政策参数版本"), max_length=20)
    rate = models.DecimalField(_("抽样比例"), max_digits=6, decimal_places=4)
    min_count = models.PositiveIntegerField(_("最少抽样数"))
    n = models.PositiveIntegerField(_("候选申请数 N"))
    k = models.PositiveIntegerField(_("抽样数 k"))
    candidate_ids = models.JSONField(_("候选申请（按排序值升序）"), default=list)
    sample_ids = models.JSONField(_("抽中申请"), default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("发起人"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("抽查时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("季度抽查")
        verbose_name_plural = _("季度抽查")
        ordering = ["-quarter"]

    def __str__(self) -> str:
        return self.quarter


class Finding(models.Model):
    """A finding (核查发现) on one application, from a spot check or a reconciliation.

    Flow: open → notified (data notice sent) → objected (the enterprise objected in time) →
    upheld / dismissed (the inspector decides, recording reasons). An open finding may be
    dismissed at once; upholding needs the notice first, so the enterprise is always heard.
    """

    class Source(models.TextChoices):
        SPOT_CHECK = "spot_check", _("季度抽查")
        RECONCILIATION = "reconciliation", _("对账")
        OTHER = "other", _("其他线索")

    class Status(models.TextChoices):
        OPEN = "open", _("待告知")
        NOTIFIED = "notified", _("已告知，待异议")
        OBJECTED = "objected", _("企业已提出异议")
        UPHELD = "upheld", _("认定属实")
        PARTIAL = "partial", _("部分认定")
        DISMISSED = "dismissed", _("不予认定")

    application = models.ForeignKey(
        "applications.Application", verbose_name=_("申请"), on_delete=models.PROTECT, related_name="findings"
    )
    source = models.CharField(_("来源"), max_length=16, choices=Source.choices)
    spot_check = models.ForeignKey(
        SpotCheck,
        verbose_name=_("抽查"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="findings",
    )
    reconciliation_run = models.ForeignKey(
        ReconciliationRun,
        verbose_name=_("对账记录"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="findings",
    )
    flag_codes = models.JSONField(_("对账标记"), default=list, blank=True)
    description = models.TextField(_("核查情况"))
    amount_at_issue = models.DecimalField(
        _("涉及金额（元）"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.OPEN)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("记录人"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)
    decision_reasons = models.TextField(_("认定理由"), blank=True)
    # What the decision found: the whole amount at issue when upheld, a part of it when 部分认定.
    amount_found = models.DecimalField(
        _("认定金额（元）"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("认定人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("认定时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("核查发现")
        verbose_name_plural = _("核查发现")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status"], name="audits_finding_status")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.application}"

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.OPEN, self.Status.NOTIFIED, self.Status.OBJECTED)

    @property
    def is_upheld(self) -> bool:
        """认定属实 or 部分认定: a finding a clawback may rest on."""
        return self.status in UPHELD_STATUSES

    def flag_labels(self) -> list[str]:
        return [rules.flag_label(code) for code in self.flag_codes]


UPHELD_STATUSES = (Finding.Status.UPHELD, Finding.Status.PARTIAL)


class DataNotice(models.Model):
    """数据告知: the finding told to the enterprise, with the last day to object (五 3: 5 working days)."""

    finding = models.OneToOneField(
        Finding, verbose_name=_("核查发现"), on_delete=models.PROTECT, related_name="notice"
    )
    notice_date = models.DateField(_("告知日期"))
    objection_deadline = models.DateField(_("异议截止日期"))
    text = models.TextField(_("告知内容"))
    policy_version = models.CharField(_("政策参数版本"), max_length=20)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("告知人"), on_delete=models.PROTECT, related_name="+"
    )
    sent_at = models.DateTimeField(_("发送时间"), auto_now_add=True)
    read_at = models.DateTimeField(_("企业阅读时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("数据告知")
        verbose_name_plural = _("数据告知")
        ordering = ["-notice_date", "-id"]

    def __str__(self) -> str:
        return f"{self.finding} {self.notice_date}"

    @property
    def objection_deadline_provisional_years(self) -> tuple[int, ...]:
        """Years without an official holiday schedule between the notice and the deadline (暂定)."""
        from policy.calendar import get_calendar

        return get_calendar().provisional_years(self.notice_date, self.objection_deadline)

    @property
    def objection_deadline_provisional(self) -> bool:
        return bool(self.objection_deadline_provisional_years)

    @property
    def objection_deadline_reason(self) -> str:
        from policy.calendar import provisional_reason

        return provisional_reason(self.objection_deadline_provisional_years)


class Objection(models.Model):
    """异议: the enterprise's written statement against a data notice, filed by the deadline."""

    notice = models.OneToOneField(
        DataNotice, verbose_name=_("数据告知"), on_delete=models.PROTECT, related_name="objection"
    )
    statement = models.TextField(_("异议陈述"))
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("提交人"), on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField(_("提交时间"))

    class Meta:
        verbose_name = _("异议")
        verbose_name_plural = _("异议")
        ordering = ["-submitted_at", "-id"]

    def __str__(self) -> str:
        return f"{self.notice} {self.submitted_at:%Y-%m-%d}"


class ObjectionEvidence(SignedFile, models.Model):
    """An evidence file of an objection, checked by ``core.uploads`` and stored under a generated name."""

    objection = models.ForeignKey(
        Objection, verbose_name=_("异议"), on_delete=models.PROTECT, related_name="evidence"
    )
    file = models.FileField(_("文件"), max_length=200)
    original_name = models.CharField(_("原文件名"), max_length=120)
    mime = models.CharField(_("类型"), max_length=100)
    size = models.PositiveIntegerField(_("大小（字节）"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    flags = models.JSONField(_("检查标记"), default=list, blank=True)
    # What the file's digital signatures said on upload (core.signatures).
    signature = models.JSONField(_("签名验证结果"), default=dict, blank=True)

    class Meta:
        verbose_name = _("异议证据")
        verbose_name_plural = _("异议证据")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.original_name


class Clawback(models.Model):
    """追回: all or part of a paid subsidy reclaimed after fraud, a receivable until settled.

    The amount defaults to the finding's amount at issue, and the finding is named. Repayments
    may come in instalments; what cannot be collected may be written off (核销) with reasons.
    The application's money record (``clawed_back_amount``, ``repaid_amount``,
    ``written_off_amount``) is updated in the same transactions.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("待缴回")
        PARTIALLY_REPAID = "partially_repaid", _("部分缴回")
        REPAID = "repaid", _("已全部缴回")
        WRITTEN_OFF = "written_off", _("已核销结清")

    application = models.OneToOneField(
        "applications.Application", verbose_name=_("申请"), on_delete=models.PROTECT, related_name="clawback"
    )
    finding = models.ForeignKey(
        Finding, verbose_name=_("核查发现"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    amount = models.DecimalField(_("应追回金额（元）"), max_digits=12, decimal_places=2)
    repaid = models.DecimalField(_("已缴回金额（元）"), max_digits=12, decimal_places=2, default=Decimal("0"))
    written_off = models.DecimalField(
        _("核销金额（元）"), max_digits=12, decimal_places=2, default=Decimal("0")
    )
    written_off_at = models.DateTimeField(_("核销时间"), null=True, blank=True)
    written_off_reason = models.TextField(_("核销理由"), blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.OPEN)
    reason = models.TextField(_("追回理由"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("决定人"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("决定时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("追回应收款")
        verbose_name_plural = _("追回应收款")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=Decimal("0")), name="clawback_positive"),
            models.CheckConstraint(
                condition=Q(repaid__gte=Decimal("0")) & Q(repaid__lte=models.F("amount")),
                name="clawback_repaid_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(written_off__gte=Decimal("0"))
                & Q(written_off__lte=models.F("amount") - models.F("repaid")),
                name="clawback_written_off_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.application} {display_money(self.repaid)}/{display_money(self.amount)}"

    @property
    def outstanding(self) -> Decimal:
        return self.amount - self.repaid - self.written_off

    @property
    def is_settled(self) -> bool:
        return self.outstanding == 0

    @property
    def repayment_deadline(self) -> Any:
        """缴回期限 as the decision states it (``audits.legal.clawback_deadline``)."""
        return clawback_deadline(self)


class Repayment(models.Model):
    """One repayment received against a clawback."""

    clawback = models.ForeignKey(
        Clawback, verbose_name=_("追回应收款"), on_delete=models.PROTECT, related_name="repayments"
    )
    amount = models.DecimalField(_("金额（元）"), max_digits=12, decimal_places=2)
    date = models.DateField(_("到账日期"))
    reference = models.CharField(_("银行流水号"), max_length=64)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("登记人"), on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("追回到账")
        verbose_name_plural = _("追回到账")
        ordering = ["date", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=Decimal("0")), name="repayment_positive")
        ]

    def __str__(self) -> str:
        return f"{self.clawback_id} {self.amount}"
