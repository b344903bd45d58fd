"""Evidence levels (docs/usage-formats.md#evidence-levels): computed per application and shown on the
review, audit and enterprise pages; sampled clips uploaded by the applicant count when their label matches."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from decimal import Decimal
from pathlib import Path

import time_machine
from django.urls import reverse
from django.utils.html import strip_tags

from applications import actions
from applications.clips import add_sampled_clip
from applications.models import MaterialKind, SampledClip
from applications.tests.factories import add_required_materials, checked, make_draft
from applications.tests.test_usage_declaration import BASE, LAUNCH, TEMPLATE, TODAY
from audits.evidence import evidence_for
from monitoring.tests.test_usage_lines import line
from monitoring.usage_lines import record_usage_lines
from testing.fixtures import BaseTestCase
from yingdu.tests.wording import problems_in


def visible(page: str) -> str:
    """The text a person reads: tags, scripts and the data they carry left out."""
    return strip_tags(re.sub(r"<script.*?</script>", " ", page, flags=re.DOTALL))


FIXTURES = Path(__file__).resolve().parents[2] / "applications" / "tests" / "fixtures" / "usage"


def clip(producer: str, produce_id: str) -> bytes:
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg is not None, "ffmpeg is a Debian package the suite needs (scripts/system-deps.sh)"
    label = json.dumps(
        {"Label": "1", "ContentProducer": producer, "ProduceID": produce_id}, ensure_ascii=False
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.mp4"
        subprocess.run(  # noqa: S603 - fixed arguments
            [ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=black:s=1920x1080:d=5:r=5"]
            + ["-metadata", f"AIGC={label}", "-movflags", "use_metadata_tags", "-c:v", "mpeg4", str(path)],
            check=True,
            timeout=60,
        )
        return path.read_bytes()


@time_machine.travel(TODAY, tick=False)
class EvidenceTests(BaseTestCase):
    def drama(self) -> object:
        application = make_draft(
            self.alice, work_minutes=96, compute_minutes=96, launch_date=LAUNCH, total_compute_cost=BASE
        )
        add_required_materials(application, self.alice, detail=TEMPLATE.encode())
        kind = MaterialKind.CONSUMPTION_DETAIL
        for name in ("ark_tasks.json", "kling_tasks.json", "kling_account_costs.json", "aliyun_grouped.csv"):
            content = (FIXTURES / name).read_bytes()
            actions.add_material(application, kind, checked(name, content, kind), actor=self.alice)
        return application

    def test_evidence_levels_are_computed_and_a_matching_sampled_clip_reaches_the_clip_level(self) -> None:
        application = self.drama()
        before = {level.code: level.reached for level in evidence_for(application).levels}  # type: ignore[arg-type]
        assert before["declared"] is True
        assert before["invoice"] is True  # every template line carries a 20-digit 数电发票 number
        assert before["clips"] is False
        add_sampled_clip(
            application,  # type: ignore[arg-type]
            "shot-001.mp4",
            clip("北京字节跳动 即梦 Seedance", "cgt-20261103100000-aaaa1"),
            actor=self.alice,
        )
        add_sampled_clip(application, "shot-002.mp4", clip("别家生成服务", "x-1"), actor=self.alice)  # type: ignore[arg-type]
        evidence = evidence_for(application)  # type: ignore[arg-type]
        first, second = evidence.clips
        assert first.check.matched and first.check.task_id == "cgt-20261103100000-aaaa1"
        assert not second.check.matched and "不是申报的厂商" in second.check.findings[0]
        assert {level.code: level.reached for level in evidence.levels}["clips"] is False
        SampledClip.objects.filter(original_name="shot-002.mp4").delete()
        assert {level.code: level.reached for level in evidence_for(application).levels}["clips"] is True  # type: ignore[arg-type]
        assert evidence.base is not None and evidence.base.total == BASE
        # 15 s (方舟 tasks) + 15.2 s (可灵 tasks) + 300 s (阿里云 bill) + 720 s (template): 17.5 of 96 minutes
        assert evidence.plausibility == Decimal("0.18")

    def test_the_96_minute_dramas_voucher_is_flagged_and_nothing_asks_for_gpu_monitoring(self) -> None:
        from audits import reconciliation, rules
        from audits.tests.fixtures import current_checkpoint

        application = self.drama()
        submitted = actions.submit_application(application, actor=self.alice)  # type: ignore[arg-type]
        run = reconciliation.run_reconciliation(submitted, actor=self.inspector, checkpoint=current_checkpoint())
        by_code = {flag["code"]: flag for flag in run.flags}
        assert by_code[rules.VOUCHER_USED]["numbers"] == {"voucher": "100.00"}
        assert rules.NO_MONITORING not in by_code and rules.PACK_OVERDRAWN not in by_code

    def test_the_evidence_panel_is_shown_on_the_enterprise_review_and_audit_pages(self) -> None:
        application = self.drama()
        submitted = actions.submit_application(application, actor=self.alice)  # type: ignore[arg-type]
        self.login(self.alice)
        page = self.client.get(reverse("applications:detail", args=[submitted.pk])).content.decode()
        assert "用量证据" in page and 'id="clip-upload"' in page
        assert problems_in(visible(page), "enterprise page") == []
        self.login(self.reviewer)
        page = self.client.get(reverse("review:detail", args=[submitted.pk])).content.decode()
        assert "用量证据" in page and "发票相符" in page and 'id="clip-upload"' not in page
        assert problems_in(visible(page), "review page") == []
        self.login(self.inspector)
        page = self.client.get(reverse("audits:application", args=[submitted.pk])).content.decode()
        assert "用量证据" in page and "每分钟作品对应生成视频" in page
        assert problems_in(visible(page), "audit page") == []
        assert 'id="left-out"' in page and "final_unit_deduction不能为空" in page

    def test_an_applicant_uploads_a_sampled_clip_through_the_page(self) -> None:
        application = self.drama()
        self.login(self.alice)
        url = reverse("applications:clip_upload", args=[application.pk])  # type: ignore[attr-defined]
        from django.core.files.uploadedfile import SimpleUploadedFile

        content = clip("可灵 快手", "CjMzP2pjHvcAAAAAANzBAg")
        response = self.client.post(url, {"clip": SimpleUploadedFile("k.mp4", content, "video/mp4")})
        assert response.status_code == 302
        stored = SampledClip.objects.get()
        assert stored.label is not None and stored.label["ProduceID"] == "CjMzP2pjHvcAAAAAANzBAg"
        response = self.client.post(
            url, {"clip": SimpleUploadedFile("a.txt", b"hello", "text/plain")}, follow=True
        )
        assert "不是 MP4、MOV、JPEG 或 PNG" in response.content.decode()


@time_machine.travel(TODAY, tick=False)
class ReportedLinesCoverEvidenceTests(BaseTestCase):
    def test_provider_reported_lines_cover_the_declared_model_service_at_the_provider_level(self) -> None:
        application = make_draft(self.alice, work_minutes=96, compute_minutes=96, launch_date=LAUNCH)
        add_required_materials(application, self.alice, detail=TEMPLATE.encode())
        levels = {level.code: level for level in evidence_for(application).levels}
        assert levels["provider"].reached is False and "火山方舟" in levels["provider"].detail
        reported = [line(f"L-{vendor}", vendor=vendor) for vendor in ("火山方舟", "阿里云百炼")]
        record_usage_lines(self.provider, reported, actor_repr="test")
        assert {level.code: level for level in evidence_for(application).levels}["provider"].reached is True


@time_machine.travel(TODAY, tick=False)
class VendorBillLevelTests(BaseTestCase):
    def test_a_vendor_bill_covers_the_declared_lines_per_sku_and_day(self) -> None:
        application = make_draft(self.alice, launch_date=LAUNCH)
        declared = (
            "类型,厂商,模型或规格,开始时间,用量,单位,应付金额（元）,实付金额（元）,发票号码\n"
            "模型服务,火山方舟,doubao-seedance-1-0-pro,2026-11-03 10:00,2450000,token,31.75,31.75,26112000000012345678\n"
        )
        kind = MaterialKind.CONSUMPTION_DETAIL
        actions.add_material(
            application, kind, checked("明细.csv", declared.encode(), kind), actor=self.alice
        )
        level = {lv.code: lv for lv in evidence_for(application).levels}["vendor_bill"]
        assert level.reached is False and "0 / 1" in level.detail
        bill = (FIXTURES / "volcengine_ListBillDetail.json").read_bytes()
        actions.add_material(application, kind, checked("账单.json", bill, kind), actor=self.alice)
        level = {lv.code: lv for lv in evidence_for(application).levels}["vendor_bill"]
        assert level.reached is True and "1 / 1" in level.detail
