"""E-mail to the security and audit administrators when a witness reports another history of the log."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import Role
from review.notify import send_email


def witness_alarm(*, witness_name: str, tree_size: int, reason: str) -> None:
    users = User.objects.filter(is_active=True, groups__name__in=[Role.SECADMIN, Role.AUDITADMIN]).distinct()
    addresses = sorted({u.email for u in users if u.email})
    title = _("日志分叉告警：见证方 %(name)s 拒绝副署") % {"name": witness_name}
    body = _(
        "见证方 %(name)s 在日志大小 %(size)s 处报告：%(reason)s。\n"
        "这意味着有人向它出示了与本平台不同的日志历史，请立即核查。\n%(url)s"
    ) % {
        "name": witness_name,
        "size": tree_size,
        "reason": reason,
        "url": settings.SITE_URL.rstrip("/") + reverse("console:security"),
    }
    send_email(title, body, addresses)
