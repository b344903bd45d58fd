"""Usage files uploaded in the provider portal: same checks as the API, rejections by line and job id."""

from __future__ import annotations

import io
import shutil
import tempfile
from contextlib import redirect_stdout
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command
from django.test import override_settings

from accounts.roles import Role
from agent.signing import sign_bytes
from enterprises.models import Provider
from monitoring.importers import read_upload
from monitoring.models import Node, RejectedRecord, UsageBatch, UsageRecord
from monitoring.schemas import FIELD_LABELS, RECORD_FIELDS
from monitoring.tests.factories import hourly, make_node, usage
from monitoring.tests.test_commands import SACCT, csv_bytes
from monitoring.uploads import SACCT_COLUMNS
from testing.fixtures import BaseTestCase, make_user, upload


class PortalUploadTests(BaseTestCase):
    node: Node
    key: Ed25519PrivateKey

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.node, cls.key = make_node(cls.provider)

    def post(self, name: str, data: bytes, **fields: object) -> UsageBatch:
        response = self.client.post("/monitoring/upload/", {"file": upload(name, data), **fields})
        self.assertEqual(response.status_code, 302, response.content.decode()[:2000])
        return UsageBatch.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[1]))

    def test_it_stores_the_good_rows_and_names_each_bad_row_by_line_and_job_id(self) -> None:
        good = hourly(self.key, 2)
        stray = usage(node_id="gpu-never-registered", gpu="GPU-stray", job_id="job-777")
        bad_uscc = usage(gpu="GPU-b", uscc="91110000600037341X", job_id="job-778")
        self.login(self.provider_user)
        batch = self.post("usage.csv", csv_bytes([good[0], stray, good[1], bad_uscc]))
        self.assertEqual((batch.source, batch.accepted, batch.rejected), (UsageBatch.Source.CSV, 2, 2))
        self.assertEqual(UsageRecord.objects.filter(provider=self.provider).count(), 2)
        page = self.client.get(f"/monitoring/batches/{batch.pk}/")
        self.assertContains(page, '<dd id="accepted">2 条</dd>', html=True)
        rows = page.content.decode().split('<table id="rejections">', 1)[1]
        # Line 1 is the header: the stray record is line 3, the bad USCC line 5.
        self.assertRegex(rows, r"第3行</td><td>job-777</td><td>节点“gpu-never-registered”未登记")
        self.assertRegex(rows, r"第5行</td><td>job-778</td><td>统一社会信用代码无效")
        portal = self.client.get("/monitoring/").content.decode()
        self.assertIn("第5行</td><td>job-778</td>", portal)
        other = Provider.objects.create(name="别家算力", status=Provider.Status.APPROVED)
        self.login(make_user("provider-other", Role.PROVIDER, provider=other))
        self.assertEqual(self.client.get(f"/monitoring/batches/{batch.pk}/").status_code, 404)

    def test_it_serves_a_template_that_reuploads_cleanly(self) -> None:
        self.login(self.provider_user)
        response = self.client.get("/monitoring/upload/template.csv")
        self.assertEqual(response.status_code, 200)
        self.assertIn("attachment", response["Content-Disposition"])
        text = response.content.decode("utf-8-sig")
        header, example, *rest = text.splitlines()
        # Chinese headers naming each field in brackets; the example's scenario in words.
        self.assertEqual((header.split(","), rest), ([FIELD_LABELS[name] for name in RECORD_FIELDS], []))
        self.assertIn("应用场景(scenario)", header)
        self.assertIn(",文生视频,", example)
        self.assertIn(self.node.node_id, example)
        batch = self.post("usage-template.csv", response.content)
        self.assertEqual((batch.total, batch.accepted, batch.rejected), (1, 1, 0))

    def test_it_documents_every_csv_and_sacct_column_on_the_upload_page(self) -> None:
        self.login(self.provider_user)
        page = self.client.get("/monitoring/upload/").content.decode()
        for name in RECORD_FIELDS:
            self.assertIn(f"<td><code>{name}</code></td>", page)
        for name, _meaning in SACCT_COLUMNS:
            self.assertIn(f"<td><code>{name}</code></td>", page)
        self.assertIn('<label for="id_file">使用记录文件', page)
        self.assertIn("卡秒", page)
        self.assertIn("--parsable2", page)

    def test_it_accepts_a_sacct_file_and_names_a_rejected_job_by_line(self) -> None:
        make_node(self.provider, "gpu01")
        self.login(self.provider_user)
        batch = self.post("jobs.txt", SACCT.encode(), gpu_model="NVIDIA H200", price_per_gpu_hour="10.00")
        self.assertEqual((batch.source, batch.accepted, batch.rejected), (UsageBatch.Source.SACCT, 1, 1))
        self.assertEqual(str(UsageRecord.objects.get(job_id="101").cost_cny), "30.00")
        rejected = RejectedRecord.objects.get(batch=batch)
        # Job 102 is the fourth line of the file (header, job 101, its batch step, job 102).
        self.assertEqual((rejected.line, rejected.job_id), (4, "102"))
        self.assertContains(self.client.get(f"/monitoring/batches/{batch.pk}/"), "节点“gpu02”未登记")

    def test_it_counts_a_signed_upload_as_signed(self) -> None:
        data = csv_bytes(hourly(self.key, 1))
        self.login(self.provider_user)
        batch = self.post("u.csv", data, signature=upload("u.csv.sig", sign_bytes(data, self.key).encode()))
        self.assertTrue(batch.signed)

    @override_settings(UPLOAD_MAX_BYTES=2048)
    def test_it_refuses_a_file_over_the_size_limit_or_not_utf8_with_a_chinese_error(self) -> None:
        self.login(self.provider_user)
        big = self.client.post("/monitoring/upload/", {"file": upload("big.csv", b"x" * 4096)})
        self.assertContains(big, "超过 0 MB 的大小限制", status_code=400)
        gbk = self.client.post("/monitoring/upload/", {"file": upload("gbk.csv", "节点".encode("gbk"))})
        self.assertContains(gbk, "不是UTF-8编码", status_code=400)
        self.assertEqual(UsageBatch.objects.count(), 0)

    def test_it_refuses_uploads_from_a_provider_not_approved(self) -> None:
        Provider.objects.filter(pk=self.provider.pk).update(status=Provider.Status.PENDING)
        self.login(self.provider_user)
        response = self.client.post("/monitoring/upload/", {"file": upload("u.csv", csv_bytes(hourly(self.key, 1)))})
        self.assertContains(response, "尚未获批准", status_code=403)
        self.assertEqual(UsageBatch.objects.count(), 0)


def test_it_numbers_csv_rows_by_their_first_file_line_across_blank_lines_and_quoted_breaks() -> None:
    text = "node_id,work_ref,job_id\r\na,b,j1\r\n\r\na,\"two\nlines\",j2\r\na,c,j3\r\n"
    parsed = read_upload(text, provider_id=1)
    assert ([r["job_id"] for r in parsed.records], parsed.lines) == (["j1", "j2", "j3"], [2, 4, 6])


class SignatureOptionTests(BaseTestCase):
    def test_it_says_the_signature_option_takes_a_file_and_names_a_missing_one(self) -> None:
        from monitoring.management.commands.usage import Command

        help_text = io.StringIO()
        with self.assertRaises(SystemExit), redirect_stdout(help_text):
            Command().run_from_argv(["yingdu", "usage", "import", "--help"])
        self.assertIn("分离签名文件的路径", help_text.getvalue())
        folder = tempfile.mkdtemp(prefix="usage-sig-")
        self.addCleanup(shutil.rmtree, folder, True)
        path = Path(folder) / "u.csv"
        path.write_bytes(b"node_id\n")
        with self.assertRaisesMessage(CommandError, "无法读取签名文件"):
            call_command(
                "usage", "import", str(path), "--provider", str(self.provider.pk),
                "--signature", str(Path(folder) / "missing.sig"),
            )  # fmt: skip
