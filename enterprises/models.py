from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.signatures import SignedFile


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
    legal_representative = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("法定代表人账号"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="represented_enterprises",
        help_text=_("由统一身份认证的法定代表人声明确认，或由区文促中心核验"),
    )
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


class Right(models.TextChoices):
    """What a legal representative (法定代表人) may delegate to a handler (经办人).

    The legal representative holds every right; a handler holds those of an unexpired,
    unrevoked :class:`Delegation`. ``enterprises.permissions`` is the one place that decides.
    """

    PREPARE = "prepare", _("填报申请")
    SUBMIT = "submit", _("提交申报")
    ANSWER = "answer", _("答复补正通知")
    OBJECT = "object", _("提出异议")
    SIGN = "sign", _("签署申报声明（第26项）")


class Delegation(models.Model):
    """A grant of rights by the legal representative to one handler, valid through ``expires_on``.

    Rows are never deleted: a revocation stamps ``revoked_at``, a new grant to the same handler
    revokes the one before, so the enterprise can always see who could do what and when.
    """

    enterprise = models.ForeignKey(
        Enterprise, verbose_name=_("企业"), on_delete=models.PROTECT, related_name="delegations"
    )
    handler = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("经办人"),
        on_delete=models.PROTECT,
        related_name="delegations",
    )
    rights = models.JSONField(_("授权事项"), default=list)
    expires_on = models.DateField(_("授权有效期至"))
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("授权人"), on_delete=models.PROTECT, related_name="+"
    )
    granted_at = models.DateTimeField(_("授权时间"))
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("撤销人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    revoked_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("经办授权")
        verbose_name_plural = _("经办授权")
        ordering = ["-granted_at", "-id"]

    def __str__(self) -> str:
        return f"{self.enterprise} → {self.handler}"

    def rights_display(self) -> str:
        return "、".join(str(Right(code).label) for code in self.rights if code in Right.values)


class LicenceVersion(SignedFile, models.Model):
    """One version of an enterprise's business licence (营业执照), verified by center staff.

    The platform holds the licence once and every application uses the latest verified version
    (《国务院关于在线政务服务的若干规定》: no asking again for what the government holds). An
    application keeps the version it was submitted with, so a later upload never changes it.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("待核验")
        VERIFIED = "verified", _("已核验")
        REJECTED = "rejected", _("未通过核验")

    enterprise = models.ForeignKey(
        Enterprise, verbose_name=_("企业"), on_delete=models.PROTECT, related_name="licences"
    )
    version = models.PositiveIntegerField(_("版本"))
    file = models.FileField(_("营业执照"), max_length=200)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    mime = models.CharField(max_length=100)
    original_name = models.CharField(_("原文件名"), max_length=120)
    # What the file's digital signatures said on upload (core.signatures).
    signature = models.JSONField(_("签名验证结果"), default=dict, blank=True)
    status = models.CharField(_("核验状态"), max_length=10, choices=Status.choices, default=Status.PENDING)
    note = models.TextField(_("核验意见"), blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("上传时间"))
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    verified_at = models.DateTimeField(_("核验时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("营业执照版本")
        verbose_name_plural = _("营业执照版本")
        ordering = ["enterprise_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "version"], name="unique_licence_version"),
        ]

    def __str__(self) -> str:
        return str(_("%(name)s 营业执照第 %(version)d 版")) % {
            "name": self.enterprise,
            "version": self.version,
        }


def verified_licence(enterprise_id: int) -> LicenceVersion | None:
    """The licence version an application of this enterprise uses now: the latest verified one."""
    return (
        LicenceVersion.objects.filter(enterprise_id=enterprise_id, status=LicenceVersion.Status.VERIFIED)
        .order_by("-version")
        .first()
    )
