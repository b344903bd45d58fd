"""``yingdu demo``: load demo data idempotently and print the demo accounts.

The staff accounts are made here; the enterprises, providers and the year of operation are
played by :mod:`demo.year` through the platform's own actions, relative to today.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.test.utils import override_settings

from accounts.groups import ensure_role_groups
from accounts.models import User
from accounts.roles import Role
from core.transactions import batch
from demo import year
from demo.cast import ENTERPRISES, PROVIDERS
from demo.staff import DEMO_PASSWORD, STAFF, ensure_user
from enterprises.models import Enterprise, Provider


class Command(BaseCommand):
    help = "载入演示数据（可重复执行）并列出演示账号"

    def handle(self, *args: Any, **options: Any) -> None:
        # The demo's own notifications (receipts, approvals) are not sent anywhere.
        locmem = "django.core.mail.backends.locmem.EmailBackend"
        # Nor are the e-mail tasks and text messages of a played year logged one by one.
        quiet = [logging.getLogger(name) for name in ("huey", "core.sms")]
        levels = [log.level for log in quiet]
        for log in quiet:
            log.setLevel(logging.WARNING)
        try:
            with override_settings(EMAIL_BACKEND=locmem), batch():
                rows = self.load()
        finally:
            for log, level in zip(quiet, levels, strict=True):
                log.setLevel(level)
        self.stdout.write(f"演示账号（密码均为 {DEMO_PASSWORD}）：")
        for username, label in rows:
            self.stdout.write(f"  {username:<12} {label}")
        self.print_mfa_enrolments()

    def print_mfa_enrolments(self) -> None:
        """With the staff second factor on, staff log in only after binding an authenticator
        through a one-time link; the demo issues one for each staff persona still without one."""
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from accounts.actions import issue_mfa_enrolment, mfa_enrolment_path
        from accounts.security import current_policy

        if not current_policy().staff_mfa_required:
            return
        bound = set(TOTPDevice.objects.filter(confirmed=True).values_list("user__username", flat=True))
        pending = [username for username, _name, _role in STAFF if username not in bound]
        if not pending:
            return
        self.stdout.write("工作人员须绑定动态口令验证器：先用密码登录，再打开本人的一次性绑定链接：")
        for user in User.objects.filter(username__in=pending).order_by("username"):
            token = issue_mfa_enrolment(user, actor=None)
            self.stdout.write(
                f"  {user.username:<12} {settings.SITE_URL.rstrip('/')}{mfa_enrolment_path(token)}"
            )

    def load(self) -> list[tuple[str, str]]:
        ensure_role_groups()
        rows: list[tuple[str, str]] = []
        for username, display_name, role in STAFF:
            ensure_user(username, display_name, role, email=f"{username}@yingdu.local")
            rows.append((username, str(Role(role).label)))
        year.load(self.stdout)
        for username, name, _uscc, _fate in ENTERPRISES:
            enterprise = Enterprise.objects.filter(users__username=username).first()
            if enterprise is not None:
                label = "已列入黑名单" if enterprise.blacklisted else enterprise.get_status_display()
                rows.append((username, f"企业经办人（{name}，{label}）"))
        provider = Provider.objects.filter(name=PROVIDERS[0][0]).first()
        if provider is not None:
            ensure_user("provider", f"{provider.name} 运维", Role.PROVIDER, provider=provider)
            rows.append(("provider", f"算力提供方（{provider.name}）"))
        return rows
