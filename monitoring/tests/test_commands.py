"""``yingdu provider``, ``yingdu node`` and ``yingdu usage import``."""

from __future__ import annotations

import base64
import csv
import io
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command

from agent.signing import public_key_b64, sign_bytes
from enterprises.models import Provider
from monitoring.actions import authenticate_token
from monitoring.models import Node, UsageBatch, UsageRecord
from monitoring.schemas import RECORD_FIELDS
from monitoring.tests.factories import hourly, make_node, usage
from testing.fixtures import USCC_A, USCC_B, BaseTestCase


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def csv_bytes(records: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(RECORD_FIELDS))
    writer.writeheader()
    for r in records:
        writer.writerow({k: r[k] for k in RECORD_FIELDS})
    return out.getvalue().encode()


SACCT = (
    "JobID|JobName|Account|Start|End|Elapsed|AllocTRES|NodeList|Comment\n"
    f"101|render-ep1|{USCC_A}|2026-03-02T09:00:00|2026-03-02T10:30:00|01:30:00|billing=16,cpu=16,gres/gpu:h200=2,gres/gpu=2,node=1|gpu01|\n"
    f"101.batch|batch|{USCC_A}|2026-03-02T09:00:00|2026-03-02T10:30:00|01:30:00|cpu=16,gres/gpu=2|gpu01|\n"
    f"102|finetune|other|2026-03-02T11:00:00|2026-03-03T12:00:00|1-01:00:00|cpu=8,gres/gpu=1|gpu02|YINGDU_WORK_REF=京剧备字2026009号;YINGDU_ENTERPRISE_USCC={USCC_B}\n"
    f"103|cpu-only|{USCC_A}|2026-03-02T11:00:00|2026-03-02T12:00:00|01:00:00|cpu=8,mem=4G|gpu03|\n"
    f"104|running|{USCC_A}|2026-03-02T11:00:00|Unknown|00:10:00|gres/gpu=1|gpu03|\n"
)


class ProviderCommandTests(BaseTestCase):
    def test_provider_add_prints_the_id_and_a_working_token_as_json(self) -> None:
        out = json.loads(run("provider", "add", "--name", "亦庄智算", "--json"))
        provider = Provider.objects.get(pk=out["provider_id"])
        self.assertEqual((provider.name, provider.status), ("亦庄智算", Provider.Status.APPROVED))
        token = authenticate_token(out["token"])
        self.assertIsNotNone(token)
        assert token is not None
        self.assertEqual(token.provider, provider)
        self.assertNotIn(out["token"], token.token_hash)

    def test_provider_add_refuses_an_existing_name(self) -> None:
        with self.assertRaisesMessage(CommandError, "已存在"):
            run("provider", "add", "--name", self.provider.name)

    def test_node_add_registers_the_public_key(self) -> None:
        key = public_key_b64(Ed25519PrivateKey.generate())
        run(
            "node", "add", "--provider", str(self.provider.pk), "--node-id", "hz-gpu-001", "--public-key", key
        )
        node = Node.objects.get(node_id="hz-gpu-001")
        self.assertEqual((node.provider, node.public_key, node.active), (self.provider, key, True))
        with self.assertRaisesMessage(CommandError, "已登记"):
            run(
                "node",
                "add",
                "--provider",
                str(self.provider.pk),
                "--node-id",
                "hz-gpu-001",
                "--public-key",
                key,
            )
        with self.assertRaisesMessage(CommandError, "Base64"):
            run("node", "add", "--provider", str(self.provider.pk), "--node-id", "x", "--public-key", "abc")
        run("node", "disable", "--node-id", "hz-gpu-001")
        self.assertFalse(Node.objects.get(node_id="hz-gpu-001").active)


class UsageImportTests(BaseTestCase):
    node: Node
    key: Ed25519PrivateKey

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.node, cls.key = make_node(cls.provider)

    def write(self, name: str, data: bytes) -> Path:
        folder = tempfile.mkdtemp(prefix="usage-import-")
        self.addCleanup(shutil.rmtree, folder, True)
        path = Path(folder) / name
        path.write_bytes(data)
        return path

    def test_an_unsigned_csv_is_imported_through_the_same_checks_and_flagged(self) -> None:
        good = hourly(self.key, 2)
        bad = usage(gpu="GPU-a", uscc="91110000600037341X")
        path = self.write("usage.csv", csv_bytes([*good, bad]))
        out = json.loads(run("usage", "import", str(path), "--provider", str(self.provider.pk), "--json"))
        self.assertEqual([r["status"] for r in out["results"]], ["accepted", "accepted", "rejected"])
        self.assertEqual(out["results"][2]["code"], "uscc")
        self.assertEqual(UsageRecord.objects.filter(signed=False).count(), 2)
        batch = UsageBatch.objects.get()
        self.assertEqual((batch.source, batch.signed), (UsageBatch.Source.CSV, False))

    def test_a_csv_with_a_valid_detached_signature_counts_as_signed(self) -> None:
        data = csv_bytes(hourly(self.key, 2))
        path = self.write("usage.csv", data)
        sig = self.write("usage.csv.sig", sign_bytes(data, self.key).encode())
        run("usage", "import", str(path), "--provider", str(self.provider.pk), "--signature", str(sig))
        self.assertEqual(UsageRecord.objects.filter(signed=True).count(), 2)
        self.assertTrue(UsageBatch.objects.get().signed)

    def test_a_detached_signature_that_does_not_verify_refuses_the_file(self) -> None:
        data = csv_bytes(hourly(self.key, 1))
        path = self.write("usage.csv", data)
        sig = self.write("bad.sig", base64.b64encode(Ed25519PrivateKey.generate().sign(data)))
        with self.assertRaisesMessage(CommandError, "文件签名无效"):
            run("usage", "import", str(path), "--provider", str(self.provider.pk), "--signature", str(sig))
        self.assertEqual(UsageRecord.objects.count(), 0)

    def test_reimporting_the_same_file_answers_duplicate(self) -> None:
        records = [
            {k: v for k, v in r.items() if k != "record_id"} | {"record_id": ""} for r in hourly(self.key, 2)
        ]
        path = self.write("usage.csv", csv_bytes(records))
        first = json.loads(run("usage", "import", str(path), "--provider", str(self.provider.pk), "--json"))
        again = json.loads(run("usage", "import", str(path), "--provider", str(self.provider.pk), "--json"))
        self.assertEqual([r["status"] for r in again["results"]], ["duplicate", "duplicate"])
        self.assertEqual(
            [r["leaf_index"] for r in again["results"]], [r["leaf_index"] for r in first["results"]]
        )

    def test_sacct_output_becomes_one_record_per_gpu_job(self) -> None:
        make_node(self.provider, "gpu01")
        make_node(self.provider, "gpu02")
        path = self.write("jobs.txt", SACCT.encode())
        run(
            "usage", "import", str(path), "--provider", str(self.provider.pk),
            "--price-per-gpu-hour", "10.00", "--gpu-model", "NVIDIA H200",
        )  # fmt: skip
        records = {r.job_id: r for r in UsageRecord.objects.all()}
        self.assertEqual(set(records), {"101", "102"})
        first, second = records["101"], records["102"]
        self.assertEqual((first.gpu_count, first.gpu_seconds, first.gpu_model), (2, 3 * 3600, "h200"))
        self.assertEqual(
            (first.enterprise_uscc, first.work_ref, str(first.cost_cny)), (USCC_A, "render-ep1", "30.00")
        )
        self.assertEqual(first.started_at.isoformat(), "2026-03-02T01:00:00+00:00")
        self.assertEqual(
            (second.enterprise_uscc, second.work_ref, second.gpu_seconds, second.gpu_model),
            (USCC_B, "京剧备字2026009号", 25 * 3600, "NVIDIA H200"),
        )
        self.assertEqual(UsageBatch.objects.get().source, UsageBatch.Source.SACCT)
        self.assertFalse(first.signed)

    def test_it_rejects_a_csv_row_naming_an_unregistered_node_and_names_the_row(self) -> None:
        good = hourly(self.key, 1)
        stray = usage(node_id="gpu-never-registered", gpu="GPU-stray")
        path = self.write("usage.csv", csv_bytes([*good, stray]))
        out = run("usage", "import", str(path), "--provider", str(self.provider.pk))
        # Line 1 is the header: the stray record is line 3 of the file.
        self.assertIn("第3行", out)
        self.assertIn("节点“gpu-never-registered”未登记", out)
        self.assertEqual(
            list(UsageRecord.objects.values_list("node__node_id", flat=True)), [self.node.node_id]
        )
        self.assertEqual(UsageBatch.objects.get().rejected, 1)

    def test_it_rejects_a_sacct_job_on_an_unregistered_node(self) -> None:
        make_node(self.provider, "gpu01")
        path = self.write("jobs.txt", SACCT.encode())
        out = run("usage", "import", str(path), "--provider", str(self.provider.pk), "--gpu-model", "H200")
        self.assertIn("节点“gpu02”未登记", out)
        self.assertIn("作业102", out)
        self.assertEqual(set(UsageRecord.objects.values_list("job_id", flat=True)), {"101"})
