from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser, Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models.signals import m2m_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.roles import Role, role_conflicts
from core.lib.dates import chinese_datetime


def current_user(request: HttpRequest) -> User:
    """The signed-in user of a request that a login_required view already checked."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user


class User(AbstractUser):
    """A person who signs in: enterprise handler, provider operator, center staff or administrator.

    Roles are groups named by ``Role`` codes. An applicant or provider user belongs to one
    organisation; staff belong to none.
    """

    display_name = models.CharField(_("姓名"), max_length=50, blank=True)
    phone = models.CharField(_("手机号"), max_length=20, blank=True)
    sms_opt_out = models.BooleanField(
        _("不接收短信提醒"),
        default=False,
        help_text=_("勾选后，期限和待办事项不再以短信通知，站内消息和邮件照常发送。"),
    )
    enterprise = models.ForeignKey(
        "enterprises.Enterprise",
        verbose_name=_("所属企业"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
    )
    provider = models.ForeignKey(
        "enterprises.Provider",
        verbose_name=_("所属算力提供方"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
    )
    password_changed_at = models.DateTimeField(_("密码修改时间"), default=timezone.now)

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")
        permissions = [("assign_roles", _("可分配角色"))]

    def __str__(self) -> str:
        return self.display_name or self.username

    _role_codes: list[str] | None = None

    def role_codes(self) -> list[str]:
        cached = self._role_codes
        if cached is None:
            valid = set(Role.values)
            cached = [name for name in self.groups.values_list("name", flat=True) if name in valid]
            self._role_codes = cached
        return cached

    def has_role(self, *roles: str) -> bool:
        return bool(set(self.role_codes()) & set(roles))

    def set_password(self, raw_password: str | None) -> None:
        super().set_password(raw_password)
        self.password_changed_at = timezone.now()


@receiver(m2m_changed, sender=User.groups.through)
def guard_role_combination(
    sender: Any, instance: Any, action: str, pk_set: set[int] | None, **kwargs: Any
) -> None:
    """Refuse any group change that would break 三权分立, whatever code path makes it.

    Role changes are made by ``accounts.actions.assign_roles``; this guard is the
    invariant behind it, so the admin site or a shell cannot bypass the rule.
    """
    if action != "pre_add" or not pk_set or not isinstance(instance, User):
        return
    current = set(instance.groups.values_list("name", flat=True))
    added = set(Group.objects.filter(pk__in=pk_set).values_list("name", flat=True))
    codes = {name for name in current | added if name in set(Role.values)}
    errors = role_conflicts(codes)
    if errors:
        raise ValidationError(errors)
    instance._role_codes = None


class OidcIdentity(models.Model):
    """A person's identity at the unified identity platform, linked to one platform user.

    The pair (issuer, subject) is the OpenID Connect identifier of a person; it never changes
    when they change their name or e-mail there.
    """

    user = models.ForeignKey(
        User, verbose_name=_("用户"), on_delete=models.CASCADE, related_name="oidc_identities"
    )
    issuer = models.CharField(_("认证平台"), max_length=200)
    subject = models.CharField(_("认证平台用户标识"), max_length=255)
    created_at = models.DateTimeField(_("关联时间"), default=timezone.now)
    last_login_at = models.DateTimeField(_("最近登录"), null=True, blank=True)

    class Meta:
        verbose_name = _("统一身份认证关联")
        verbose_name_plural = _("统一身份认证关联")
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="unique_oidc_identity")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.issuer}"


# The stored security policy and system settings live in their own module with their readers.
from accounts.security import SecurityPolicy, SiteSettings  # noqa: E402

__all__ = ["MfaEnrolment", "OidcIdentity", "SecurityPolicy", "SiteSettings", "User", "current_user"]


class MfaEnrolment(models.Model):
    """A one-time link that lets a staff member bind a TOTP authenticator (docs/security.md).

    Issued by the security administrator (or by the operator's command for the first one),
    never obtained by logging in: a password alone must not be enough to bind a second
    factor. Only the SHA-256 of the link's token is stored; a link works once, before
    ``expires_at``, for its own user after their password login; issuing a new link for the
    same user revokes the older ones.
    """

    user = models.ForeignKey(
        User, verbose_name=_("用户"), on_delete=models.CASCADE, related_name="mfa_enrolments"
    )
    token_sha256 = models.CharField(_("令牌摘要"), max_length=64, unique=True)
    issued_by = models.ForeignKey(
        User, verbose_name=_("签发人"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("签发时间"), default=timezone.now)
    expires_at = models.DateTimeField(_("失效时间"))
    used_at = models.DateTimeField(_("使用时间"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("作废时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("动态口令绑定链接")
        verbose_name_plural = _("动态口令绑定链接")

    def __str__(self) -> str:
        return f"{self.user_id} {chinese_datetime(self.created_at)}"

    def usable(self, now: Any) -> bool:
        return self.used_at is None and self.revoked_at is None and now < self.expires_at
