"""The items a supplement notice can name: every material kind and every typed row of the form.

Item codes are ``material:<kind>`` and ``row:<field>``. Rows 24 (derived from 16), 25
(computed) and 26 (the declaration) are not typed and cannot be named.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from applications.models import Application, MaterialKind
from core.formats import date_text
from core.lib.money import display_money


@dataclass(frozen=True)
class Row:
    number: int
    field: str
    label: str

    @property
    def code(self) -> str:
        return f"row:{self.field}"

    @property
    def title(self) -> str:
        return f"{self.number}. {self.label}"


def _row(number: int, field: str) -> Row:
    model_field = Application._meta.get_field(field)
    return Row(number, field, str(getattr(model_field, "verbose_name", field)))


# Rows 1–23 of the source form (docs/form.md) and the model field each one is stored in.
ROWS: tuple[Row, ...] = tuple(
    _row(n, f)
    for n, f in [
        (1, "enterprise_name"),
        (2, "uscc"),
        (3, "registered_address"),
        (4, "operating_address"),
        (5, "legal_rep_name"),
        (6, "legal_rep_phone"),
        (7, "handler_name"),
        (8, "handler_phone"),
        (9, "handler_email"),
        (10, "work_title"),
        (11, "filing_number"),
        (12, "work_minutes"),
        (13, "platform_name"),
        (14, "launch_date"),
        (15, "launch_proof_number"),
        (16, "overseas"),
        (17, "overseas_region"),
        (18, "overseas_agreement_number"),
        (19, "overseas_platform"),
        (20, "overseas_launch_date"),
        (21, "provider_name"),
        (22, "compute_minutes"),
        (23, "total_compute_cost"),
    ]
)
ROW_BY_FIELD = {row.field: row for row in ROWS}
# Rows whose change changes the computed amount (row 25).
AMOUNT_FIELDS = frozenset({"work_minutes", "overseas", "total_compute_cost"})


@dataclass(frozen=True)
class Item:
    kind: str  # "material" | "row"
    code: str
    label: str

    @property
    def item_code(self) -> str:
        return f"{self.kind}:{self.code}"


def checklist() -> list[Item]:
    """Every item a reviewer may name, materials first, in form order."""
    materials = [Item("material", kind.value, str(kind.label)) for kind in MaterialKind]
    rows = [Item("row", row.field, row.title) for row in ROWS]
    return materials + rows


def display_value(application: Application, field: str) -> str:
    """A row's value as text for pages, e-mails and the change comparison."""
    value: Any = getattr(application, field)
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return str(_("是")) if value else str(_("否"))
    if isinstance(value, dt.date):
        return date_text(value)
    if isinstance(value, Decimal):
        return display_money(value)
    return str(value)


PHONE_FIELDS = frozenset({"legal_rep_phone", "handler_phone"})


def form_rows(application: Application, *, mask_phones: bool = False) -> list[tuple[str, str]]:
    """All 26 rows with their values, for the review page; phones masked there (docs/security.md)."""
    from core.validators import mask_phone

    rows = []
    for row in ROWS:
        value = display_value(application, row.field)
        if mask_phones and row.field in PHONE_FIELDS and value:
            value = mask_phone(value)
        rows.append((row.title, value))
    rows.append((f"24. {_('申请算力服务支持类型')}", application.support_type))
    amount = application.requested_amount
    rows.append((f"25. {_('申请算力服务支持金额（元）')}", display_money(amount) if amount is not None else ""))
    declared = (
        _("已确认，签署人：%(name)s") % {"name": application.signer_name}
        if application.declaration_accepted
        else ""
    )
    rows.append((f"26. {_('声明')}", str(declared)))
    return rows
