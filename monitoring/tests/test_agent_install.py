"""The agent installed on its own (``pip install ./agent``, no Django) delivers to the real platform,
and the platform takes the agent's optional provenance fields without needing them."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.tests.test_install import clean_env
from agent.tests.test_install import venv as venv  # noqa: PLC0414 - the fixture, built once here
from monitoring.ingest import record_usage_batch
from monitoring.models import Node, UsageRecord
from monitoring.tests.factories import BASE, make_node, signed
from monitoring.tests.test_agent_delivery import EXPECTED, RECORD_SECONDS, delivered
from monitoring.tests.test_agent_delivery import platform as platform  # noqa: PLC0414 - the fixture
from testing.fixtures import BaseTestCase

PROVENANCE = {
    "device_uuid": "GPU-7c60d23e-f790-482a-85f4-17bba1f6b5cb",
    "split_rule": "process_util",
    "energy_rule": "counter",
    "attribution": "kubernetes",
    "attribution_ref": "studio/render-a/main",
    "clock_sync": "synchronized",
    "clock_max_error_ms": 12,
}


@pytest.mark.install
def test_the_agent_installed_alone_delivers_signed_records_to_the_platform(
    platform: dict[str, Any], venv: Path, tmp_path: Path
) -> None:
    done = subprocess.run(
        [
            str(venv / "bin" / "yingdu-agent"), "--backend", "fake", "--fake-timeline", str(platform["dir"] / "timeline.json"),
            "--server", platform["url"], "--token", platform["token"], "--node-id", "hz-gpu-017",
            "--key", str(platform["key"]), "--spool", str(tmp_path / "spool"), "--record-seconds", RECORD_SECONDS,
            "--metrics-port", "0", "--once", "--max-runtime", "60",
        ],
        cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert UsageRecord.objects.filter(provider=platform["provider"]).count() == EXPECTED
    entries = delivered(platform)
    assert {(e["attribution"], e["split_rule"], e["energy_rule"]) for e in entries} == {
        ("environ", "exclusive", "counter")
    }


class ProvenanceFieldTests(BaseTestCase):
    node: Node
    key: Ed25519PrivateKey

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.node, cls.key = make_node(cls.provider)

    def send(self, record: dict[str, Any]) -> Any:
        (result,) = record_usage_batch(self.provider, [record], actor_repr="test").results
        return result

    def test_records_with_and_without_the_agents_provenance_fields_are_accepted(self) -> None:
        assert self.send(signed(self.key, gpu="GPU-a", start=BASE)).status == "accepted"
        assert self.send(signed(self.key, gpu="GPU-b", start=BASE, **PROVENANCE)).status == "accepted"

    def test_a_provenance_field_of_the_wrong_shape_is_rejected_by_name(self) -> None:
        result = self.send(
            signed(self.key, gpu="GPU-c", start=BASE, **{**PROVENANCE, "clock_max_error_ms": "12"})
        )
        assert (result.status, result.code) == ("rejected", "schema")
        assert "时钟最大误差(clock_max_error_ms)" in result.reason
        result = self.send(signed(self.key, gpu="GPU-d", start=BASE, split_rule="x" * 33))
        assert "分摊规则(split_rule)" in result.reason
