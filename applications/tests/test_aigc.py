"""Sampled clips (docs/usage-formats.md): the AIGC implicit label read from an MP4 with ffprobe and from an
image's XMP, matched to the declared vendor and task."""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import subprocess
import tempfile
from decimal import Decimal
from pathlib import Path

from django.test import SimpleTestCase
from PIL import Image

from applications.aigc import check_clip, image_facts, video_facts
from applications.usage_lines import UsageLine

FFMPEG = shutil.which("ffmpeg")
TASK = "cgt-20261103100000-aaaa1"
LINES = [
    UsageLine(
        kind="model_service",
        vendor="火山方舟",
        quantity=Decimal("245000"),
        unit="token",
        source="vendor_task",
        category="video",
        task_id=TASK,
        output_seconds=Decimal("2"),
        resolution="240p",
        day=dt.date(2026, 11, 3),
    )
]


def label(producer: str, produce_id: str = TASK) -> str:
    return json.dumps(
        {
            "Label": "1",
            "ContentProducer": producer,
            "ProduceID": produce_id,
            "ReservedCode1": "",
            "ContentPropagator": "",
            "PropagateID": "",
            "ReservedCode2": "",
        },
        ensure_ascii=False,
    )


def make_clip(folder: Path, name: str, aigc: str | None) -> Path:
    assert FFMPEG is not None, "ffmpeg is a Debian package the suite needs (scripts/system-deps.sh)"
    path = folder / name
    command = [FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=black:s=320x240:d=2:r=10"]
    if aigc is not None:
        command += ["-metadata", f"AIGC={aigc}", "-movflags", "use_metadata_tags"]
    command += ["-c:v", "mpeg4", str(path)]
    subprocess.run(command, check=True, timeout=60)  # noqa: S603 - fixed arguments
    return path


class SampledClipTests(SimpleTestCase):
    def setUp(self) -> None:
        self.folder = Path(self.enterContext(tempfile.TemporaryDirectory()))

    def test_an_mp4_labelled_with_aigc_json_is_read_and_matched_to_its_declared_vendor(self) -> None:
        clip = make_clip(self.folder, "a.mp4", label("火山引擎（北京字节跳动）即梦 Seedance"))
        facts = video_facts(clip)
        assert facts.label is not None and facts.label["ProduceID"] == TASK
        assert (facts.width, facts.height) == (320, 240)
        assert facts.duration == Decimal("2.000000")
        result = check_clip("a.mp4", facts, LINES)
        assert result.vendor == "火山方舟" and result.task_id == TASK
        assert result.findings == [] and result.matched

    def test_an_unlabelled_clip_is_a_finding(self) -> None:
        result = check_clip("b.mp4", video_facts(make_clip(self.folder, "b.mp4", None)), LINES)
        assert not result.matched
        assert result.findings == ["片段“b.mp4”没有 AIGC 隐式标识"]

    def test_a_clip_naming_another_producer_is_a_finding(self) -> None:
        clip = make_clip(self.folder, "c.mp4", label("某某其他生成服务有限公司", "other-1"))
        result = check_clip("c.mp4", video_facts(clip), LINES)
        assert not result.matched
        assert "不是申报的厂商（火山方舟）" in result.findings[0]

    def test_a_clip_of_another_length_than_its_task_is_a_finding(self) -> None:
        lines = [UsageLine(**{**LINES[0].__dict__, "output_seconds": Decimal("10")})]
        clip = make_clip(self.folder, "d.mp4", label("即梦"))
        [finding] = check_clip("d.mp4", video_facts(clip), lines).findings
        assert "与任务 cgt-20261103100000-aaaa1 记录的 10 秒不符" in finding


class ImageLabelTests(SimpleTestCase):
    def test_an_image_label_is_read_from_xmp_tc260_aigc(self) -> None:
        out = io.BytesIO()
        xmp = (
            '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            '<rdf:Description xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/" TC260:AIGC="'
            + label("可灵 快手").replace('"', "&quot;")
            + '"/></rdf:RDF></x:xmpmeta>'
        )
        Image.new("RGB", (64, 48)).save(out, "PNG")
        content = out.getvalue() + xmp.encode()
        facts = image_facts(content)
        assert facts.label is not None and facts.label["ContentProducer"] == "可灵 快手"
        assert (facts.width, facts.height) == (64, 48)
        assert (
            check_clip("p.png", facts, [UsageLine(**{**LINES[0].__dict__, "vendor": "可灵"})]).vendor
            == "可灵"
        )
