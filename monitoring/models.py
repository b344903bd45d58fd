"""Compute monitoring (docs/monitoring.md): provider nodes and tokens, and the usage records they report.

Accepted usage records are never changed or deleted: each is also an entry of the
tamper-evident log (``leaf_index``), whose bytes are the record's RFC 8785 canonical JSON
including its signature, so anyone holding the node's public key can check the entry.
"""

from __future__ import annotations

import hashlib
from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.lib.dates import chinese_datetime
from enterprises.models import Enterprise, Provider
from ledger.models import AppendOnlyError


class Scenario(models.TextChoices):
    TEXT2VIDEO = "text2video", _("文生视频")
    IMAGE2VIDEO = "image2video", _("图生视频")
    VOICE = "voice", _("语音")
    FINETUNE = "finetune", _("模型微调")
    RENDER = "render", _("渲染")
    OTHER = "other", _("其他")


class Node(models.Model):
    """A provider's GPU node; it signs its usage records with an Ed25519 key whose public half is kept here."""

    provider = models.ForeignKey(
        Provider, verbose_name=_("算力提供方"), on_delete=models.PROTECT, related_name="nodes"
    )
    node_id = models.CharField(_("节点标识"), max_length=64, unique=True)
    public_key = models.CharField(_("公钥（Base64）"), max_length=64)
    active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("算力节点")
        verbose_name_plural = _("算力节点")
        ordering = ["node_id"]

    def __str__(self) -> str:
        return self.node_id

    @property
    def key_fingerprint(self) -> str:
        """First 16 hex digits of SHA-256 over the raw key text, to compare keys by eye."""
        return hashlib.sha256(self.public_key.encode()).hexdigest()[:16]


class ApiToken(models.Model):
    """A provider's API token. Only its SHA-256 is stored; the token itself is shown once when created."""

    provider = models.ForeignKey(
        Provider, verbose_name=_("算力提供方"), on_delete=models.PROTECT, related_name="tokens"
    )
    name = models.CharField(_("用途说明"), max_length=100, blank=True)
    prefix = models.CharField(_("前缀"), max_length=12)
    token_hash = models.CharField(_("令牌哈希"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("接口令牌")
        verbose_name_plural = _("接口令牌")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.prefix}…"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class UsageBatch(models.Model):
    """One delivery of usage records: an API batch, a CSV upload or a Slurm ``sacct`` import."""

    class Source(models.TextChoices):
        API = "api", _("接口上报")
        CSV = "csv", _("CSV导入")
        SACCT = "sacct", _("Slurm sacct导入")

    provider = models.ForeignKey(
        Provider, verbose_name=_("算力提供方"), on_delete=models.PROTECT, related_name="batches"
    )
    received_at = models.DateTimeField(_("接收时间"), db_index=True)
    source = models.CharField(_("来源"), max_length=8, choices=Source.choices)
    signed = models.BooleanField(_("已签名"), default=True)
    actor_repr = models.CharField(_("提交方"), max_length=150, blank=True)
    file_sha256 = models.CharField(_("文件SHA-256"), max_length=64, blank=True)
    total = models.PositiveIntegerField(_("记录数"), default=0)
    accepted = models.PositiveIntegerField(_("接受"), default=0)
    duplicate = models.PositiveIntegerField(_("重复"), default=0)
    rejected = models.PositiveIntegerField(_("拒绝"), default=0)
    checkpoint = models.TextField(_("检查点"), blank=True)

    class Meta:
        verbose_name = _("上报批次")
        verbose_name_plural = _("上报批次")
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.provider} {chinese_datetime(self.received_at, seconds=True)} ({self.accepted}/{self.total})"


class UsageRecordQuerySet(models.QuerySet["UsageRecord"]):
    def for_enterprise(self, enterprise: Enterprise) -> UsageRecordQuerySet:
        """An enterprise's records, by USCC: records sent before it registered are included without a backfill."""
        return self.filter(enterprise_uscc=enterprise.uscc)

    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("usage records are append-only")

    def delete(self) -> NoReturn:
        raise AppendOnlyError("usage records are append-only")


class UsageRecord(models.Model):
    """An accepted usage record (docs/monitoring.md), one row per record and one entry in the log.

    ``enterprise`` is filled when the USCC belonged to a registered enterprise at
    ingestion; queries go by ``enterprise_uscc`` so later registrations need no backfill.
    ``signed`` is false for uploads that no node key signed: they are flagged for review.
    """

    record_id = models.UUIDField(_("记录编号"), unique=True)
    # Rows arrive thousands a second: no index on these three keys, which are never searched
    # alone (``usage_provider_time`` covers the provider; batches and nodes are never deleted,
    # so PROTECT's look-up never runs).
    batch = models.ForeignKey(
        UsageBatch, verbose_name=_("批次"), on_delete=models.PROTECT, related_name="records", db_index=False
    )
    provider = models.ForeignKey(
        Provider, verbose_name=_("算力提供方"), on_delete=models.PROTECT, related_name="+", db_index=False
    )
    node = models.ForeignKey(
        Node,
        verbose_name=_("节点"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    node_name = models.CharField(_("节点标识"), max_length=64)
    enterprise_uscc = models.CharField(_("统一社会信用代码"), max_length=18)
    enterprise = models.ForeignKey(
        Enterprise, verbose_name=_("企业"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    work_ref = models.CharField(_("作品备案号或申请编号"), max_length=100)
    job_id = models.CharField(_("作业编号"), max_length=100, blank=True)
    scenario = models.CharField(_("应用场景"), max_length=16, choices=Scenario.choices)
    gpu_model = models.CharField(_("GPU型号"), max_length=64)
    gpu_uuid = models.CharField(_("GPU UUID"), max_length=96)
    gpu_count = models.PositiveIntegerField(_("GPU数量"))
    started_at = models.DateTimeField(_("开始时间"))
    ended_at = models.DateTimeField(_("结束时间"))
    gpu_seconds = models.FloatField(_("GPU时长（秒）"))
    avg_util_pct = models.FloatField(_("平均利用率（%）"))
    max_mem_mib = models.BigIntegerField(_("最大显存（MiB）"))
    energy_wh = models.FloatField(_("能耗（Wh）"))
    cost_cny = models.DecimalField(_("费用（元）"), max_digits=14, decimal_places=2)
    signed = models.BooleanField(_("已签名"), default=True)
    signature = models.CharField(_("签名"), max_length=100, blank=True)
    leaf_index = models.BigIntegerField(_("日志叶序号"), unique=True)
    entry_sha256 = models.CharField(_("条目SHA-256"), max_length=64)
    received_at = models.DateTimeField(_("接收时间"))

    objects = UsageRecordQuerySet.as_manager()

    class Meta:
        verbose_name = _("算力使用记录")
        verbose_name_plural = _("算力使用记录")
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["enterprise_uscc", "work_ref"], name="usage_uscc_work"),
            models.Index(fields=["gpu_uuid", "started_at", "ended_at"], name="usage_gpu_time"),
            models.Index(fields=["provider", "started_at"], name="usage_provider_time"),
        ]

    def __str__(self) -> str:
        return f"{self.work_ref} {self.gpu_uuid} {chinese_datetime(self.started_at)}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("usage records are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("usage records are append-only")


class RejectedRecord(models.Model):
    """A record refused at ingestion, kept with the reason so the provider can see and correct it."""

    batch = models.ForeignKey(
        UsageBatch, verbose_name=_("批次"), on_delete=models.PROTECT, related_name="rejections"
    )
    record_id = models.CharField(_("记录编号"), max_length=64, blank=True, db_index=True)
    code = models.CharField(_("原因代码"), max_length=32)
    reason = models.CharField(_("原因"), max_length=300)
    payload = models.JSONField(_("原始记录"), null=True, blank=True)
    line = models.PositiveIntegerField(_("文件行号"), null=True, blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("被拒记录")
        verbose_name_plural = _("被拒记录")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.record_id} {self.code}"

    @property
    def job_id(self) -> str:
        """The job id the rejected record named, as the provider finds it in its own system."""
        return str(self.payload.get("job_id", "")) if isinstance(self.payload, dict) else ""


class ReportedUsageLine(models.Model):
    """A usage line of any kind reported by a provider through the API (docs/usage-formats.md): GPU time of
    a centre, a model service's tokens or seconds, or a reseller's line naming its upstream vendor."""

    provider = models.ForeignKey(
        "enterprises.Provider", on_delete=models.PROTECT, related_name="usage_lines", verbose_name=_("提供方")
    )
    line_id = models.CharField(_("提供方行编号"), max_length=128)
    enterprise_uscc = models.CharField(_("统一社会信用代码"), max_length=18, db_index=True)
    work_ref = models.CharField(_("作品备案号或申请编号"), max_length=100)
    kind = models.CharField(_("类型"), max_length=20)
    vendor = models.CharField(_("厂商"), max_length=128)
    category = models.CharField(_("类别"), max_length=20)
    sku = models.CharField(_("模型或规格"), max_length=256, blank=True)
    task_id = models.CharField(_("任务编号"), max_length=128, blank=True, db_index=True)
    day = models.DateField(_("日期"), null=True, blank=True)
    quantity = models.DecimalField(_("用量"), max_digits=24, decimal_places=6)
    unit = models.CharField(_("单位"), max_length=20)
    output_seconds = models.DecimalField(_("生成时长（秒）"), max_digits=16, decimal_places=3, null=True, blank=True)
    resolution = models.CharField(_("分辨率"), max_length=32, blank=True)
    list_amount = models.DecimalField(_("目录金额"), max_digits=20, decimal_places=6, null=True, blank=True)
    coupon = models.DecimalField(_("优惠券抵扣"), max_digits=20, decimal_places=6, null=True, blank=True)
    voucher = models.DecimalField(_("算力券抵扣"), max_digits=20, decimal_places=6, null=True, blank=True)
    pack_units = models.DecimalField(_("资源包抵扣"), max_digits=24, decimal_places=6, null=True, blank=True)
    payable = models.DecimalField(_("应付金额"), max_digits=20, decimal_places=6, null=True, blank=True)
    paid = models.DecimalField(_("实付金额"), max_digits=20, decimal_places=6, null=True, blank=True)
    invoice_no = models.CharField(_("发票号码"), max_length=32, blank=True)
    line_sha256 = models.CharField(_("行 SHA-256"), max_length=64)
    received_at = models.DateTimeField(_("接收时间"))

    class Meta:
        verbose_name = _("提供方报送用量行")
        verbose_name_plural = _("提供方报送用量行")
        constraints = [
            models.UniqueConstraint(fields=["provider", "line_id"], name="unique_reported_usage_line"),
        ]

    def __str__(self) -> str:
        return f"{self.vendor} {self.quantity} {self.unit}"
