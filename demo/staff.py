"""The demo's staff personas and the one published demo password."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group

from accounts.models import User
from accounts.roles import Role

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


def ensure_user(username: str, display_name: str, role: str, **fields: Any) -> tuple[User, bool]:
    user = User.objects.filter(username=username).first()
    created = user is None
    if user is None:
        user = User.objects.create_user(
            username=username, password=DEMO_PASSWORD, display_name=display_name, **fields
        )
    user.groups.add(Group.objects.get(name=role))
    return user, created
