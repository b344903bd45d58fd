"""The stored security policy (安全管理员) and system settings (系统管理员), and their readers.

Each is one row. A field left empty means "the deployment default" from settings, so an
installation that never touched the console behaves exactly as its environment says. The code
that enforces a rule reads the effective value through :func:`current_policy`: the password
validators, the idle-timeout, password-expiry and second-factor middleware and django-axes
(``AXES_FAILURE_LIMIT`` / ``AXES_COOLOFF_TIME`` name the two callables at the end).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

REQUEST_CACHE_ATTR = "_yingdu_security_policy"


class SecurityPolicy(models.Model):
    """Password, lockout, session and second-factor rules set by the security administrator."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    password_min_length = models.PositiveSmallIntegerField(
        _("密码最小长度"), null=True, blank=True, validators=[MinValueValidator(8), MaxValueValidator(64)]
    )
    password_min_classes = models.PositiveSmallIntegerField(
        _("密码至少包含的字符类别数"),
        null=True,
        blank=True,
        validators=[MinValueValidator(2), MaxValueValidator(4)],
        help_text=_("大写字母、小写字母、数字、符号四类中至少几类"),
    )
    password_max_age_days = models.PositiveSmallIntegerField(
        _("密码有效期（天）"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(365)],
        help_text=_("填 0 表示不强制定期修改"),
    )
    lockout_failure_limit = models.PositiveSmallIntegerField(
        _("连续登录失败锁定次数"),
        null=True,
        blank=True,
        validators=[MinValueValidator(3), MaxValueValidator(10)],
    )
    lockout_cooloff_minutes = models.PositiveSmallIntegerField(
        _("锁定时长（分钟）"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(1440)],
    )
    session_idle_minutes = models.PositiveSmallIntegerField(
        _("会话空闲超时（分钟）"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(240)],
    )
    staff_mfa_required = models.BooleanField(
        _("工作人员与管理员须通过动态口令（双因素）"), null=True, blank=True
    )

    class Meta:
        verbose_name = _("安全策略")
        verbose_name_plural = _("安全策略")

    def __str__(self) -> str:
        return str(_("安全策略"))


class SiteSettings(models.Model):
    """System settings kept by the system administrator: what the portal tells visitors."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    announcement = models.TextField(_("首页公告"), max_length=500, blank=True)
    service_phone = models.CharField(_("咨询电话"), max_length=40, blank=True)
    service_email = models.EmailField(_("咨询邮箱"), blank=True)
    service_hours = models.CharField(_("服务时间"), max_length=80, blank=True)

    class Meta:
        verbose_name = _("系统设置")
        verbose_name_plural = _("系统设置")

    def __str__(self) -> str:
        return str(_("系统设置"))


@dataclass(frozen=True)
class EffectivePolicy:
    """The rules in force: the stored value where one is set, the deployment default otherwise."""

    password_min_length: int
    password_min_classes: int
    password_max_age_days: int
    lockout_failure_limit: int
    lockout_cooloff_minutes: int
    session_idle_minutes: int
    staff_mfa_required: bool

    @property
    def session_idle_seconds(self) -> int:
        return self.session_idle_minutes * 60

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def defaults() -> EffectivePolicy:
    """The deployment's defaults, from the environment (README "配置")."""
    return EffectivePolicy(
        password_min_length=int(settings.PASSWORD_MIN_LENGTH),
        password_min_classes=int(settings.PASSWORD_MIN_CLASSES),
        password_max_age_days=int(settings.PASSWORD_MAX_AGE_DAYS),
        lockout_failure_limit=int(settings.AXES_DEFAULT_FAILURE_LIMIT),
        lockout_cooloff_minutes=int(settings.AXES_DEFAULT_COOLOFF_MINUTES),
        # Whole minutes of at least one: the system check accounts.E001 refuses any other value.
        session_idle_minutes=max(1, int(settings.SESSION_IDLE_TIMEOUT_SECONDS) // 60),
        staff_mfa_required=bool(settings.STAFF_MFA_REQUIRED),
    )


def resolve(row: SecurityPolicy | None) -> EffectivePolicy:
    base = defaults()
    if row is None:
        return base
    values = {f.name: getattr(row, f.name) for f in fields(EffectivePolicy)}
    return EffectivePolicy(**{k: (v if v is not None else getattr(base, k)) for k, v in values.items()})


def current_policy(request: HttpRequest | None = None) -> EffectivePolicy:
    """The effective policy, read once per request (the middleware chain asks several times)."""
    if request is not None:
        cached = getattr(request, REQUEST_CACHE_ATTR, None)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
    policy = resolve(SecurityPolicy.objects.filter(pk=1).first())
    if request is not None:
        setattr(request, REQUEST_CACHE_ATTR, policy)
    return policy


def site_settings() -> SiteSettings:
    return SiteSettings.objects.filter(pk=1).first() or SiteSettings()


# django-axes reads these two through AXES_FAILURE_LIMIT and AXES_COOLOFF_TIME.


def axes_failure_limit(request: HttpRequest | None, credentials: Any = None) -> int:
    return current_policy(request).lockout_failure_limit


def axes_cooloff(request: HttpRequest | None = None) -> timedelta:
    return timedelta(minutes=current_policy(request).lockout_cooloff_minutes)
