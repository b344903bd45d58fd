"""Applications in any state, built directly (the intake's own tests cover how they get there)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from django.test import override_settings
from django.utils import timezone

from accounts.models import User
from applications.models import Application, Material, MaterialKind
from applications.states import Status
from enterprises.models import Enterprise
from policy.loader import params_at
from policy.rules import calculate_subsidy
from yingdu.test import BaseTestCase

_numbers = itertools.count(1)


def make_application(
    enterprise: Enterprise,
    created_by: User,
    status: Status = Status.SUBMITTED,
    *,
    submitted: dt.datetime | None = None,
    cost: str = "50000.00",
    minutes: int = 100,
    overseas: bool = False,
    **fields: Any,
) -> Application:
    """A complete application of ``enterprise`` in ``status``, submitted at ``submitted`` (now)."""
    n = next(_numbers)
    submitted = submitted or timezone.now()
    day = timezone.localdate(submitted)
    result = calculate_subsidy(
        total_compute_cost=Decimal(cost),
        work_minutes=minutes,
        overseas=overseas,
        granted_this_year=Decimal("0"),
        params=params_at(day),
    )
    values: dict[str, Any] = {
        "enterprise": enterprise,
        "created_by": created_by,
        "status": status,
        "enterprise_name": enterprise.name,
        "uscc": enterprise.uscc,
        "registered_address": enterprise.registered_address,
        "operating_address": enterprise.operating_address,
        "legal_rep_name": enterprise.legal_rep_name,
        "legal_rep_phone": enterprise.legal_rep_phone,
        "handler_name": enterprise.handler_name,
        "handler_phone": enterprise.handler_phone,
        "handler_email": enterprise.handler_email,
        "work_title": f"短剧《云端之城》第{n}部",
        "filing_number": f"京剧备字2026-{n:04d}",
        "work_minutes": minutes,
        "platform_name": "红果短剧",
        "launch_date": day - dt.timedelta(days=5),
        "launch_proof_number": "无",
        "overseas": overseas,
        "provider_name": "怀柔智算中心",
        "compute_minutes": minutes,
        "total_compute_cost": Decimal(cost),
        "requested_amount": result.amount,
        "calculation": result.as_dict(),
        "policy_version": result.policy_version,
        "declaration_accepted": True,
        "signer_name": enterprise.legal_rep_name,
        "submitted_at": None if status == Status.DRAFT else submitted,
        "received_date": None if status == Status.DRAFT else day,
    }
    if overseas:
        values.update(
            overseas_region="东南亚",
            overseas_agreement_number="HW-2026-01",
            overseas_platform="ReelShort",
            overseas_launch_date=day - dt.timedelta(days=3),
        )
    values.update(fields)
    app = Application.objects.create(**values)
    if status != Status.DRAFT:
        app.reference = f"YD{day.year}-{app.pk:06d}"
        app.save(update_fields=["reference"])
    return app


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
