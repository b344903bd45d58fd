"""Demo applications for ``yingdu demo``: drafts and submitted ones for the demo enterprises.

Idempotent: an application is made once per demo filing number. Dates are relative to today
so the submitted ones are inside the apply deadline; if today's deadline falls in a year
whose holidays are not loaded, the application stays a draft and the reason is printed.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

from django.utils import timezone

from accounts.models import User
from applications import actions
from applications.models import Application, MaterialKind
from yingdu.uploads import DOCUMENT_TYPES, TABLE_TYPES, CheckedUpload, check_upload

DEMO = [
    # username, filing number, submit?, rows
    (
        "yingzhi",
        "DEMO-京剧备-0001",
        True,
        {
            "work_title": "龙城夜雨",
            "work_minutes": 60,
            "total_compute_cost": Decimal("50000.00"),
            "overseas": False,
        },
    ),
    ("yingzhi", "DEMO-京剧备-0002", False, {"work_title": "星火燎原", "work_minutes": 45}),
    (
        "xinghe",
        "DEMO-京剧备-0101",
        True,
        {
            "work_title": "海上明月",
            "work_minutes": 100,
            "total_compute_cost": Decimal("40000.00"),
            "overseas": True,
            "overseas_region": "东南亚（泰国、越南）",
            "overseas_agreement_number": "HW-2026-018",
            "overseas_platform": "ReelShort",
        },
    ),
    (
        "xinghe",
        "DEMO-京剧备-0102",
        False,
        {"work_title": "山河故人", "work_minutes": 30, "platform_name": "快手"},
    ),
]


def _pdf(text: str) -> bytes:
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    pdf.docinfo["/Title"] = text
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (320, 200), (155, 28, 28)).save(out, format="PNG")
    return out.getvalue()


def _detail(minutes: int, cost: Decimal, start: dt.datetime, prefix: str) -> bytes:
    """Two rows of a consumption detail adding up to ``minutes`` and ``cost`` (one card each)."""
    first = minutes // 2
    second = minutes - first
    amount_first = (cost * first / minutes).quantize(Decimal("0.01"))
    amount_second = cost - amount_first
    lines = [
        "记录编号,开始时间,结束时间,算力资源,数量（卡）,时长（分钟）,单价（元/卡·小时）,金额（元）,使用场景"
    ]
    for index, (mins, amount) in enumerate(((first, amount_first), (second, amount_second)), start=1):
        begin = start + dt.timedelta(hours=index * 3)
        price = (amount * 60 / mins).quantize(Decimal("0.0001"))
        lines.append(
            f"{prefix}-{index},{begin:%Y-%m-%d %H:%M},{begin + dt.timedelta(minutes=mins):%Y-%m-%d %H:%M},"
            f"H200,1,{mins},{price},{amount},text2video"
        )
    return ("\n".join(lines) + "\n").encode()


def _checked(name: str, content: bytes, kind: str) -> CheckedUpload:
    from django.core.files.uploadedfile import SimpleUploadedFile

    allowed = DOCUMENT_TYPES | TABLE_TYPES if kind == MaterialKind.CONSUMPTION_DETAIL else DOCUMENT_TYPES
    return check_upload(SimpleUploadedFile(name, content), allowed)


def _materials(application: Application, user: User, rows: dict[str, Any], launch: dt.date) -> None:
    start = timezone.make_aware(dt.datetime.combine(launch - dt.timedelta(days=20), dt.time(9, 0)))
    for kind in application.required_material_kinds():
        if kind == MaterialKind.CONSUMPTION_DETAIL:
            content = _detail(
                rows["work_minutes"], rows["total_compute_cost"], start, application.filing_number
            )
            upload = _checked("算力消耗明细.csv", content, kind)
        elif kind == MaterialKind.LAUNCH_PROOF:
            upload = _checked("上线截图.png", _png(), kind)
        else:
            upload = _checked(f"{MaterialKind(kind).label}.pdf", _pdf(str(MaterialKind(kind).label)), kind)
        actions.add_material(application, kind, upload, actor=user)


def load(stdout: Any) -> None:
    today = timezone.localdate()
    launch = today - dt.timedelta(days=7)
    made = 0
    for username, filing_number, submit, extra in DEMO:
        user = User.objects.filter(username=username).select_related("enterprise").first()
        if user is None or user.enterprise is None:
            continue
        if Application.objects.filter(
            enterprise=user.enterprise, filing_number__iexact=filing_number
        ).exists():
            continue
        rows: dict[str, Any] = {
            "filing_number": filing_number,
            "platform_name": "抖音",
            "launch_date": launch,
            "launch_proof_number": "无",
            **extra,
        }
        if submit:
            rows |= {
                "provider_name": "怀柔智算中心",
                "compute_minutes": rows["work_minutes"],
                "declaration_accepted": True,
                "signer_name": user.enterprise.legal_rep_name,
            }
            if rows.get("overseas"):
                rows["overseas_launch_date"] = launch
        application = actions.create_draft(actor=user)
        application = actions.update_draft(application, rows, actor=user)
        made += 1
        if not submit:
            continue
        _materials(application, user, rows, launch)
        try:
            application = actions.submit_application(application, actor=user)
        except actions.SubmissionRefused as exc:
            reasons = "；".join(m for messages in exc.problems.values() for m in messages)
            stdout.write(f"  演示申请“{rows['work_title']}”保留为草稿：{reasons}")
    stdout.write(f"申报：新增演示申请 {made} 件。")
