"""Builders for intake tests: a complete set of rows, a consumption detail, a submittable draft."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

from accounts.models import User
from applications import actions
from applications.models import Application, MaterialKind
from core.uploads import check_upload
from testing.fixtures import pdf_bytes, png_bytes, upload

# Tests pin the clock here: a working Friday in a year chinesecalendar knows.
NOW = dt.datetime(2026, 3, 20, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
LAUNCH = dt.date(2026, 3, 2)
# 30 working days after 2026-03-02 (清明 2026-04-04…06 are days off).
LAUNCH_DEADLINE = dt.date(2026, 4, 14)

HEADER = "记录编号,开始时间,结束时间,算力资源,数量（卡）,时长（分钟）,单价（元/卡·小时）,金额（元）,使用场景"


def row_values(**overrides: Any) -> dict[str, Any]:
    """Rows 2–23 and 26 filled correctly for a domestic work of 60 minutes costing 50,000 yuan."""
    values: dict[str, Any] = {
        "work_title": "龙城夜雨",
        "filing_number": "京剧备2026-0001",
        "work_minutes": 60,
        "platform_name": "抖音",
        "launch_date": LAUNCH,
        "launch_proof_number": "无",
        "overseas": False,
        "provider_name": "怀柔智算中心",
        "compute_minutes": 60,
        "total_compute_cost": Decimal("50000.00"),
        "declaration_accepted": True,
        "signer_name": "张三",
    }
    values.update(overrides)
    return values


def consumption_csv(rows: list[tuple[Any, ...]] | None = None) -> bytes:
    """A consumption detail: by default two rows, 60 minutes and 50,000.00 yuan in total.

    Row amounts follow quantity × minutes ÷ 60 × unit price (per card-hour).
    """
    if rows is None:
        rows = [
            (
                "JOB-1",
                "2026-03-01 08:00",
                "2026-03-01 08:30",
                "H200",
                8,
                30,
                "5000",
                "20000.00",
                "text2video",
            ),
            ("JOB-2", "2026-03-01 09:00", "2026-03-01 09:30", "H200", 8, 30, "7500", "30000.00", "render"),
        ]
    lines = [HEADER] + [",".join(str(c) for c in row) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def consumption_xlsx(rows: list[tuple[Any, ...]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADER.split(","))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def checked(name: str, content: bytes, kind: str = MaterialKind.BUSINESS_LICENSE) -> Any:
    from core.filetypes import DOCUMENT_TYPES, USAGE_TYPES

    allowed = DOCUMENT_TYPES | USAGE_TYPES if kind == MaterialKind.CONSUMPTION_DETAIL else DOCUMENT_TYPES
    return check_upload(upload(name, content), allowed)


def add_required_materials(
    application: Application, user: User, *, detail: bytes | None = None, skip: tuple[str, ...] = ()
) -> None:
    for kind in application.required_material_kinds():
        if kind in skip:
            continue
        if kind == MaterialKind.CONSUMPTION_DETAIL:
            content = detail if detail is not None else consumption_csv()
            actions.add_material(application, kind, checked("明细.csv", content, kind), actor=user)
        elif kind == MaterialKind.LAUNCH_PROOF:
            actions.add_material(application, kind, checked("截图.png", png_bytes()), actor=user)
        else:
            actions.add_material(application, kind, checked(f"{kind}.pdf", pdf_bytes()), actor=user)


def make_draft(user: User, **overrides: Any) -> Application:
    application = actions.create_draft(actor=user)
    return actions.update_draft(application, row_values(**overrides), actor=user)


def make_submittable(user: User, **overrides: Any) -> Application:
    application = make_draft(user, **overrides)
    add_required_materials(application, user)
    return application
