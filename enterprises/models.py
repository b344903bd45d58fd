from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Enterprise(models.Model):
    """An applicant company (申报企业). Only a verified enterprise that is not blacklisted may apply."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待核验")
        VERIFIED = "verified", _("已核验")
        REJECTED = "rejected", _("未通过核验")

    name = models.CharField(_("企业名称"), max_length=100)
    uscc = models.CharField(_("统一社会信用代码"), max_length=18, unique=True)
    registered_address = models.CharField(_("注册地址"), max_length=200)
    operating_address = models.CharField(_("实际经营地址"), max_length=200)
    legal_rep_name = models.CharField(_("法定代表人"), max_length=50)
    legal_rep_phone = models.CharField(_("法定代表人电话"), max_length=20)
    handler_name = models.CharField(_("经办人"), max_length=50)
    handler_phone = models.CharField(_("经办人电话"), max_length=20)
    handler_email = models.EmailField(_("经办人邮箱"))
    license_file = models.FileField(_("营业执照"), max_length=200, blank=True)
    license_sha256 = models.CharField(_("营业执照SHA-256"), max_length=64, blank=True)
    license_mime = models.CharField(max_length=100, blank=True)
    license_name = models.CharField(_("营业执照原文件名"), max_length=120, blank=True)
    status = models.CharField(_("核验状态"), max_length=10, choices=Status.choices, default=Status.PENDING)
    review_note = models.TextField(_("核验意见"), blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    verified_at = models.DateTimeField(_("核验时间"), null=True, blank=True)
    blacklisted = models.BooleanField(_("已列入黑名单"), default=False)
    blacklist_reason = models.TextField(_("列入黑名单原因"), blank=True)
    blacklisted_at = models.DateTimeField(_("列入黑名单时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("企业")
        verbose_name_plural = _("企业")
        ordering = ["-id"]
        permissions = [("verify_enterprise", _("可核验企业"))]

    def __str__(self) -> str:
        return self.name

    @property
    def can_apply(self) -> bool:
        return self.status == self.Status.VERIFIED and not self.blacklisted


class Provider(models.Model):
    """A compute provider or agent (算力提供方/代理方) that registers GPU nodes and reports usage."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待审核")
        APPROVED = "approved", _("已批准")
        SUSPENDED = "suspended", _("已停用")

    name = models.CharField(_("名称"), max_length=100, unique=True)
    uscc = models.CharField(_("统一社会信用代码"), max_length=18, blank=True)
    contact_name = models.CharField(_("联系人"), max_length=50, blank=True)
    contact_phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    contact_email = models.EmailField(_("联系邮箱"), blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("算力提供方")
        verbose_name_plural = _("算力提供方")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ConflictOfInterest(models.Model):
    """A staff member's declared conflict with an enterprise: they may not review its applications."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="conflicts")
    enterprise = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="conflicts")
    reason = models.CharField(_("回避原因"), max_length=200)
    declared_at = models.DateTimeField(_("申报时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("利益冲突回避")
        verbose_name_plural = _("利益冲突回避")
        constraints = [models.UniqueConstraint(fields=["user", "enterprise"], name="unique_conflict")]

    def __str__(self) -> str:
        return f"{self.user} ↔ {self.enterprise}"
