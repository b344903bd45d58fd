"""Signed usage records and registered nodes for monitoring tests."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.collector import isoformat
from agent.signing import public_key_b64, sign_record
from enterprises.models import Provider
from monitoring.models import Node
from testing.fixtures import USCC_A

BASE = datetime.fromisoformat("2026-03-01T08:00:00+08:00")


def make_node(provider: Provider, node_id: str = "hz-gpu-017") -> tuple[Node, Ed25519PrivateKey]:
    key = Ed25519PrivateKey.generate()
    node = Node.objects.create(provider=provider, node_id=node_id, public_key=public_key_b64(key))
    return node, key


def usage(
    *,
    node_id: str = "hz-gpu-017",
    gpu: str = "GPU-7c60d23e-f790-482a-85f4-17bba1f6b5cb",
    start: datetime = BASE,
    minutes: float = 60,
    uscc: str = USCC_A,
    **fields: Any,
) -> dict[str, Any]:
    """An unsigned docs/monitoring.md record of one GPU busy for ``minutes`` from ``start``."""
    seconds = minutes * 60
    record: dict[str, Any] = {
        "record_id": str(uuid.uuid4()),
        "node_id": node_id,
        "enterprise_uscc": uscc,
        "work_ref": "京剧备字2026001号",
        "job_id": "job-1",
        "scenario": "text2video",
        "gpu_model": "NVIDIA H200",
        "gpu_uuid": gpu,
        "gpu_count": 1,
        "started_at": isoformat(start),
        "ended_at": isoformat(start + timedelta(seconds=seconds)),
        "gpu_seconds": seconds,
        "avg_util_pct": 87.5,
        "max_mem_mib": 80211,
        "energy_wh": round(seconds / 3600 * 650.2, 3),
        "cost_cny": "32.50",
    }
    record.update(fields)
    return record


def signed(key: Ed25519PrivateKey, **kwargs: Any) -> dict[str, Any]:
    return sign_record(usage(**kwargs), key)


def hourly(
    key: Ed25519PrivateKey, n: int, *, gpu: str = "GPU-a", start: datetime = BASE, **kwargs: Any
) -> list[dict[str, Any]]:
    """``n`` consecutive one-hour records of one GPU."""
    return [signed(key, gpu=gpu, start=start + timedelta(hours=i), **kwargs) for i in range(n)]
