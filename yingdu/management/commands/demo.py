"""``yingdu demo``: load demo data idempotently and print the demo accounts.

Each app may add its own demo data in ``<app>/demo.py`` with ``load(stdout)``; they run
in the order of INSTALLED_APPS after the accounts and enterprises below.
"""

from __future__ import annotations

import importlib
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings

from accounts.groups import ensure_role_groups
from accounts.models import User
from accounts.roles import Role
from enterprises.models import Enterprise, Provider

DEMO_PASSWORD = "Yingdu@2026demo"  # noqa: S105 - published demo password, demo data only

STAFF = [
    ("reviewer", "初审员 赵敏", Role.REVIEWER),
    ("reviewer2", "初审员 钱磊", Role.REVIEWER),
    ("head", "主管领导 孙伟", Role.HEAD),
    ("approver", "审批负责人 周婷", Role.APPROVER),
    ("finance", "财务 吴刚", Role.FINANCE),
    ("inspector", "稽查员 郑洁", Role.INSPECTOR),
    ("sysadmin", "系统管理员", Role.SYSADMIN),
    ("secadmin", "安全管理员", Role.SECADMIN),
    ("auditadmin", "审计管理员", Role.AUDITADMIN),
]

ENTERPRISES = [
    # username, name, uscc, status
    ("yingzhi", "北京影都智造文化传媒有限公司", "91110116MA01ABCD11", Enterprise.Status.VERIFIED),
    ("xinghe", "怀柔星河短剧科技有限公司", "91110105MA7ABCDE1B", Enterprise.Status.VERIFIED),
    ("chuying", "北京初映数字影像有限公司", "91110116755623456M", Enterprise.Status.PENDING),
]


def ensure_user(username: str, display_name: str, role: str, **fields: Any) -> tuple[User, bool]:
    user = User.objects.filter(username=username).first()
    created = user is None
    if user is None:
        user = User.objects.create_user(
            username=username, password=DEMO_PASSWORD, display_name=display_name, **fields
        )
    user.groups.add(Group.objects.get(name=role))
    return user, created


class Command(BaseCommand):
    help = "载入演示数据（可重复执行）并列出演示账号"

    def handle(self, *args: Any, **options: Any) -> None:
        # The demo's own notifications (receipts, approvals) are not sent anywhere.
        locmem = "django.core.mail.backends.locmem.EmailBackend"
        with override_settings(EMAIL_BACKEND=locmem), transaction.atomic():
            rows = self.load()
        self.stdout.write(f"演示账号（密码均为 {DEMO_PASSWORD}）：")
        for username, label in rows:
            self.stdout.write(f"  {username:<12} {label}")

    def load(self) -> list[tuple[str, str]]:
        ensure_role_groups()
        rows: list[tuple[str, str]] = []
        for username, display_name, role in STAFF:
            ensure_user(username, display_name, role, email=f"{username}@yingdu.local")
            rows.append((username, str(Role(role).label)))
        for username, name, uscc, status in ENTERPRISES:
            enterprise, _ = Enterprise.objects.get_or_create(
                uscc=uscc,
                defaults={
                    "name": name,
                    "registered_address": "北京市怀柔区杨宋镇凤翔科技开发区",
                    "operating_address": "北京市怀柔区杨宋镇影都大道1号",
                    "legal_rep_name": "张三",
                    "legal_rep_phone": "+8613800138000",
                    "handler_name": "李四",
                    "handler_phone": "+8613900139000",
                    "handler_email": f"{username}@example.cn",
                    "status": status,
                },
            )
            ensure_user(
                username,
                f"{name} 经办人",
                Role.APPLICANT,
                enterprise=enterprise,
                email=f"{username}@example.cn",
            )
            rows.append((username, f"企业经办人（{name}，{enterprise.get_status_display()}）"))
        provider, _ = Provider.objects.get_or_create(
            name="怀柔智算中心", defaults={"status": Provider.Status.APPROVED, "contact_name": "陈工"}
        )
        ensure_user("provider", "怀柔智算中心 运维", Role.PROVIDER, provider=provider)
        rows.append(("provider", "算力提供方（怀柔智算中心）"))

        for app in settings.INSTALLED_APPS:
            try:
                module = importlib.import_module(f"{app}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"{app}.demo":
                    raise
                continue
            module.load(stdout=self.stdout)

        return rows
