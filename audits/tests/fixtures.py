"""Fixtures for audit tests: applications in a given state, their consumption rows, and monitored
usage that goes through the real ingestion (signed by a registered node) into the log."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accounts.models import User
from agent.signing import canonical_record, public_key_b64, sign_record
from applications.models import Application, ConsumptionRow, Material, MaterialKind
from applications.states import Status
from enterprises.models import Enterprise, Provider
from ledger.actions import append_entries, sign_checkpoint
from ledger.models import Checkpoint
from ledger.services import latest_checkpoint_row
from monitoring.ingest import record_usage_batch
from monitoring.models import Node, UsageBatch, UsageRecord
from testing.fixtures import make_application as build_application

BEIJING = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=BEIJING)


def at(day: int, hour: int = 8, minute: int = 0, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=BEIJING)


def make_application(
    enterprise: Enterprise,
    created_by: User,
    filing_number: str,
    *,
    cost: str,
    work_minutes: int,
    launch_date: dt.date = dt.date(2026, 3, 20),
    status: str = Status.INITIAL_REVIEW,
    submitted_at: dt.datetime | None = None,
    paid_at: dt.datetime | None = None,
    granted: str | None = None,
) -> Application:
    submitted = submitted_at or at(21, 10)
    return build_application(
        enterprise,
        created_by,
        Status(status),
        submitted=submitted,
        cost=cost,
        minutes=work_minutes,
        work_title="短剧《" + filing_number + "》",
        filing_number=filing_number,
        launch_date=launch_date,
        received_date=submitted.date(),
        paid_at=paid_at,
        granted_amount=Decimal(granted) if granted is not None else None,
        paid_amount=Decimal(granted) if granted is not None and paid_at is not None else Decimal("0"),
        handler_email="handler@example.cn",
        requested_amount=None,
    )



def make_paid_application(
    enterprise: Enterprise,
    created_by: User,
    filing_number: str,
    *,
    paid_at: dt.datetime,
    submitted_at: dt.datetime | None = None,
) -> Application:
    """The application most audit tests start from: a 50,000 元 work of 100 minutes, 15,000 元
    granted and paid."""
    return make_application(
        enterprise,
        created_by,
        filing_number,
        cost="50000.00",
        work_minutes=100,
        status=Status.PAID,
        submitted_at=submitted_at,
        paid_at=paid_at,
        granted="15000.00",
    )

def declare_rows(
    app: Application, rows: Sequence[tuple[str, dt.datetime, int, int, str]]
) -> list[ConsumptionRow]:
    """Consumption rows ``(record_id, start, quantity, minutes, amount)`` of a locked detail file."""
    material = Material.objects.create(
        application=app,
        kind=MaterialKind.CONSUMPTION_DETAIL,
        file="materials/2026/03/detail.csv",
        original_name="算力消耗明细.csv",
        mime="text/csv",
        size=100,
        sha256="0" * 64,
        locked=True,
        uploaded_by=app.created_by,
    )
    out = []
    for i, (record_id, start, quantity, minutes, amount) in enumerate(rows, start=2):
        out.append(
            ConsumptionRow.objects.create(
                application=app,
                material=material,
                row_number=i,
                record_id=record_id,
                started_at=start,
                ended_at=start + dt.timedelta(minutes=minutes),
                resource="H200",
                quantity=quantity,
                minutes=minutes,
                unit_price=Decimal("10.0000"),
                amount=Decimal(amount),
                scenario="text2video",
            )
        )
    return out


class Monitoring:
    """A provider with one registered node that reports signed usage through the real ingestion."""

    def __init__(self, provider: Provider, node_id: str = "hz-gpu-001") -> None:
        self.provider = provider
        self.key = Ed25519PrivateKey.generate()
        self.node = Node.objects.create(
            provider=provider, node_id=node_id, public_key=public_key_b64(self.key)
        )

    def record(
        self,
        uscc: str,
        work_ref: str,
        start: dt.datetime,
        *,
        minutes: int = 60,
        cost: str = "100.00",
        gpu: str = "GPU-0",
        record_id: str | None = None,
    ) -> dict[str, Any]:
        seconds = minutes * 60
        raw = {
            "record_id": record_id or str(uuid.uuid4()),
            "node_id": self.node.node_id,
            "enterprise_uscc": uscc,
            "work_ref": work_ref,
            "job_id": "job-" + work_ref,
            "scenario": "text2video",
            "gpu_model": "NVIDIA H200",
            "gpu_uuid": gpu,
            "gpu_count": 1,
            "started_at": start.isoformat(),
            "ended_at": (start + dt.timedelta(seconds=seconds)).isoformat(),
            "gpu_seconds": seconds,
            "avg_util_pct": 80.0,
            "max_mem_mib": 60000,
            "energy_wh": round(seconds / 3600 * 600, 3),
            "cost_cny": cost,
        }
        return sign_record(raw, self.key)

    def ingest(self, records: Sequence[dict[str, Any]]) -> list[UsageRecord]:
        result = record_usage_batch(self.provider, records, actor_repr="test")
        accepted = [r for r in result.results if r.status == "accepted"]
        assert len(accepted) == len(records), result.as_dict()
        return list(
            UsageRecord.objects.filter(record_id__in=[r["record_id"] for r in records]).order_by("leaf_index")
        )

    def hours(
        self,
        uscc: str,
        work_ref: str,
        start: dt.datetime,
        n: int,
        *,
        cost: str = "100.00",
        gpu: str = "GPU-0",
    ) -> list[UsageRecord]:
        """``n`` consecutive one-hour records of one GPU."""
        return self.ingest(
            [self.record(uscc, work_ref, start + dt.timedelta(hours=i), cost=cost, gpu=gpu) for i in range(n)]
        )

    def insert_unchecked(
        self,
        uscc: str,
        work_ref: str,
        start: dt.datetime,
        *,
        minutes: int = 60,
        cost: str = "100.00",
        gpu: str = "GPU-0",
    ) -> UsageRecord:
        """A record stored without ingestion's checks (as legacy data might be), still in the log."""
        batch = UsageBatch.objects.create(
            provider=self.provider,
            received_at=start,
            source=UsageBatch.Source.CSV,
            signed=False,
            total=1,
            accepted=1,
        )
        record_id = uuid.uuid4()
        ended = start + dt.timedelta(minutes=minutes)
        raw = {
            "record_id": str(record_id), "node_id": "legacy", "enterprise_uscc": uscc, "work_ref": work_ref,
            "job_id": "", "scenario": "render", "gpu_model": "NVIDIA H200", "gpu_uuid": gpu, "gpu_count": 1,
            "started_at": start.isoformat(), "ended_at": ended.isoformat(), "gpu_seconds": minutes * 60,
            "avg_util_pct": 50.0, "max_mem_mib": 1000, "energy_wh": 100.0, "cost_cny": cost,
        }  # fmt: skip
        entry = canonical_record(raw)
        [leaf] = append_entries([entry], kind="usage_record", provider_id=self.provider.pk)
        return UsageRecord.objects.create(
            record_id=record_id,
            batch=batch,
            provider=self.provider,
            node=None,
            node_name="legacy",
            enterprise_uscc=uscc,
            work_ref=work_ref,
            scenario="render",
            gpu_model="NVIDIA H200",
            gpu_uuid=gpu,
            gpu_count=1,
            started_at=start,
            ended_at=ended,
            gpu_seconds=minutes * 60,
            avg_util_pct=50.0,
            max_mem_mib=1000,
            energy_wh=100.0,
            cost_cny=Decimal(cost),
            signed=False,
            leaf_index=leaf,
            entry_sha256=hashlib.sha256(entry).hexdigest(),
            received_at=start,
        )


def current_checkpoint() -> Checkpoint:
    sign_checkpoint()
    return latest_checkpoint_row()
