"""Shared test helpers: named personas (STYLE.md) built once per test class."""

from __future__ import annotations

import io
from typing import Any

from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase

from accounts.models import User
from accounts.roles import Role
from enterprises.models import Enterprise, Provider

PASSWORD = "Yd-test-Passw0rd!"  # noqa: S105 - test fixture

# Valid 统一社会信用代码 for fixtures (GB 32100 check digits verified by stdnum).
USCC_A = "91110116MA01ABCD11"
USCC_B = "91110105MA7ABCDE1B"
USCC_C = "91110116755623456M"


def valid_uscc(seed: int) -> str:
    """A valid USCC built from a number, for tests that need many enterprises."""
    from stdnum.cn import uscc

    body = f"9111011{seed:010d}"[:17]
    return body + uscc.calc_check_digit(body)


def make_user(username: str, *roles: str, **fields: Any) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD, **fields)
    for role in roles:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def make_enterprise(
    name: str = "北京影都智造文化传媒有限公司", uscc: str | None = None, **fields: Any
) -> Enterprise:
    defaults: dict[str, Any] = {
        "registered_address": "北京市怀柔区杨宋镇凤翔科技开发区",
        "operating_address": "北京市怀柔区杨宋镇影都大道1号",
        "legal_rep_name": "张三",
        "legal_rep_phone": "+8613800138000",
        "handler_name": "李四",
        "handler_phone": "+8613900139000",
        "handler_email": "lisi@example.cn",
        "status": Enterprise.Status.VERIFIED,
    }
    defaults.update(fields)
    return Enterprise.objects.create(name=name, uscc=uscc or valid_uscc(abs(hash(name)) % 10**9), **defaults)


def png_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def pdf_bytes(text: str = "test") -> bytes:
    """A tiny valid PDF made with pikepdf."""
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(200, 200))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


class BaseTestCase(TestCase):
    """Personas: an applicant of enterprise A (alice) and of B (bob), the three review levels,
    finance, an inspector, a provider user and an outsider with no role."""

    enterprise: Enterprise
    other_enterprise: Enterprise
    provider: Provider
    alice: User
    bob: User
    reviewer: User
    head: User
    approver: User
    finance: User
    inspector: User
    provider_user: User
    outsider: User

    @classmethod
    def setUpTestData(cls) -> None:
        cls.enterprise = make_enterprise("北京影都智造文化传媒有限公司", USCC_A)
        cls.other_enterprise = make_enterprise("怀柔星河短剧科技有限公司", USCC_B)
        cls.provider = Provider.objects.create(name="怀柔智算中心", status=Provider.Status.APPROVED)
        cls.alice = make_user(
            "alice", Role.APPLICANT, enterprise=cls.enterprise, display_name="李四", email="alice@example.cn"
        )
        cls.bob = make_user(
            "bob",
            Role.APPLICANT,
            enterprise=cls.other_enterprise,
            display_name="王五",
            email="bob@example.cn",
        )
        cls.reviewer = make_user("reviewer", Role.REVIEWER, display_name="初审员")
        cls.head = make_user("head", Role.HEAD, display_name="主管领导")
        cls.approver = make_user("approver", Role.APPROVER, display_name="审批负责人")
        cls.finance = make_user("finance", Role.FINANCE, display_name="财务")
        cls.inspector = make_user("inspector", Role.INSPECTOR, display_name="稽查员")
        cls.provider_user = make_user("provider", Role.PROVIDER, provider=cls.provider)
        cls.outsider = make_user("outsider")

    def login(self, user: User) -> None:
        self.client.force_login(user)
