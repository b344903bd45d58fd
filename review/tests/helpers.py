"""Applications in any state, built directly (the intake's own tests cover how they get there)."""

from __future__ import annotations

from django.test import override_settings

from accounts.models import User
from applications.models import Application, Material, MaterialKind
from testing.fixtures import BaseTestCase
from testing.fixtures import make_application as make_application  # the shared builder, re-exported


def add_material(app: Application, kind: MaterialKind, *, user: User, version: int = 1) -> Material:
    return Material.objects.create(
        application=app,
        kind=kind,
        file=f"materials/2026/03/{kind}-{version}.pdf",
        original_name=f"{kind}.pdf",
        mime="application/pdf",
        size=100,
        sha256="0" * 64,
        version=version,
        locked=True,
        uploaded_by=user,
    )


@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
class ReviewTestCase(BaseTestCase):
    """The shared personas, created with a fast password hash (a dozen users per class)."""
