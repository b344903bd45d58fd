"""The reports app writes nothing but the audit event of an export (docs/reports.md, 等保 2.0 审计)."""

from __future__ import annotations

from django.http import HttpRequest

from accounts.models import User
from core.transactions import durable
from ledger.actions import record_event


def record_export(
    *,
    actor: User | None,
    year: int,
    rows: dict[str, int],
    export_format: str = "xlsx",
    request: HttpRequest | None = None,
    actor_repr: str = "",
) -> None:
    """Log who exported which year's report and how many rows each sheet held.

    Exports carry personal and financial data out of the platform, so each one is an audit
    event in the tamper-evident log, like a download of a material.
    """
    with durable():
        record_event(
            "report.export",
            actor=actor,
            after={"year": year, "format": export_format, "rows": rows},
            request=request,
            actor_repr=actor_repr,
        )
