"""The AIGC implicit label of a sampled raw clip (GB 45438-2025, 《人工智能生成合成内容标识办法》) and its check
against the declared usage (docs/usage-formats.md, evidence level "sampled clips").

The label is one JSON string with ``Label``, ``ContentProducer``, ``ProduceID``, ``ReservedCode1``,
``ContentPropagator``, ``PropagateID`` and ``ReservedCode2``. In MP4 / MOV it is the ``AIGC`` metadata key
(read with Debian's ``ffprobe``); in an image it is the XMP property ``TC260:AIGC`` in the namespace
``http://www.tc260.org.cn/ns/AIGC/1.0/``. Labels of a finished episode rarely survive editing, so raw
clips are sampled. A missing label, or a producer that is none of the declared vendors, is a finding;
so is a clip whose ``ProduceID`` names a declared task of another duration or resolution.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess  # noqa: S404 - ffprobe is run without a shell, on a file the platform wrote
import tempfile
import xml.etree.ElementTree as ET  # noqa: S405 - the packet is bounded and has no DTD (checked)
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from applications.usage_lines import UsageLine

LABEL_FIELDS = (
    "Label",
    "ContentProducer",
    "ProduceID",
    "ReservedCode1",
    "ContentPropagator",
    "PropagateID",
    "ReservedCode2",
)
TC260_NS = "http://www.tc260.org.cn/ns/AIGC/1.0/"
XMP_MAX = 256 * 1024
FFPROBE_TIMEOUT = 30
# A clip's duration may differ from the task's by this many seconds (container rounding).
DURATION_SLACK = Decimal("1")

# Names by which a vendor's producer shows in a label, by the vendor names the parsers give.
VENDOR_NAMES: dict[str, tuple[str, ...]] = {
    "火山方舟": (
        "火山",
        "字节跳动",
        "抖音",
        "即梦",
        "volcengine",
        "bytedance",
        "doubao",
        "seedance",
        "jimeng",
    ),
    "火山引擎": ("火山", "字节跳动", "volcengine", "bytedance"),
    "可灵": ("可灵", "快手", "kling", "kuaishou"),
    "阿里云百炼": ("阿里", "通义", "万相", "aliyun", "alibaba", "dashscope", "tongyi", "wanx"),
    "阿里云": ("阿里", "aliyun", "alibaba"),
    "腾讯云": ("腾讯", "混元", "tencent", "hunyuan"),
}


@dataclass(frozen=True)
class ClipFacts:
    """What a clip says about itself: its label (``None`` when it has none), duration and resolution."""

    label: Mapping[str, str] | None
    duration: Decimal | None = None
    width: int | None = None
    height: int | None = None
    error: str = ""

    @property
    def resolution(self) -> str:
        return f"{self.width}x{self.height}" if self.width and self.height else ""


@dataclass
class ClipCheck:
    """The outcome for one clip: the vendor it matched, the task it names, and the findings."""

    name: str
    facts: ClipFacts
    vendor: str = ""
    task_id: str = ""
    findings: list[str] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return bool(self.vendor) and not self.findings


def parse_label(text: str) -> dict[str, str] | None:
    """The label's fields from its JSON string; ``None`` when it is not a JSON object."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    return {name: str(value.get(name, "") or "") for name in LABEL_FIELDS}


def ffprobe_available() -> bool:
    return shutil.which("ffprobe") is not None


def video_facts(path: Path) -> ClipFacts:
    """The ``AIGC`` metadata key, duration and picture size of an MP4 / MOV file, read by ffprobe."""
    executable = shutil.which("ffprobe")
    if executable is None:
        return ClipFacts(None, error=_("服务器未安装 ffprobe，无法读取视频标识"))
    try:
        completed = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            [executable, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
            capture_output=True,
            timeout=FFPROBE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return ClipFacts(None, error=_("读取视频超时"))
    if completed.returncode != 0:
        return ClipFacts(None, error=_("无法读取视频文件，文件可能已损坏"))
    try:
        probe = json.loads(completed.stdout or b"{}")
    except ValueError:
        return ClipFacts(None, error=_("无法读取视频文件，文件可能已损坏"))
    fmt = probe.get("format") or {}
    tags = {str(k).lower(): v for k, v in (fmt.get("tags") or {}).items()}
    label = parse_label(str(tags["aigc"])) if "aigc" in tags else None
    video = next((s for s in probe.get("streams") or [] if s.get("codec_type") == "video"), {})
    return ClipFacts(
        label=label,
        duration=_decimal(fmt.get("duration") or video.get("duration")),
        width=_int(video.get("width")),
        height=_int(video.get("height")),
    )


def video_facts_of_bytes(content: bytes, suffix: str = ".mp4") -> ClipFacts:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"clip{suffix}"
        path.write_bytes(content)
        return video_facts(path)


_XMP = re.compile(rb"<x:xmpmeta[\s>].*?</x:xmpmeta>", re.DOTALL)


def image_facts(content: bytes) -> ClipFacts:
    """The XMP property ``TC260:AIGC`` of an image (attribute or element form), and its size."""
    width = height = None
    try:
        from PIL import Image

        with Image.open(io.BytesIO(content)) as image:
            width, height = image.size
    except Exception:  # noqa: BLE001 - an unreadable image is a clip without facts, not an error page
        width = height = None
    found = _XMP.search(content)
    if found is None or len(found.group(0)) > XMP_MAX or b"<!DOCTYPE" in found.group(0).upper():
        return ClipFacts(None, width=width, height=height)
    try:
        root = ET.fromstring(found.group(0))  # noqa: S314 - bounded, DTD refused above
    except ET.ParseError:
        return ClipFacts(None, width=width, height=height)
    key = f"{{{TC260_NS}}}AIGC"
    text = None
    for element in root.iter():
        if key in element.attrib:
            text = element.attrib[key]
            break
        if element.tag == key:
            text = element.text or ""
            break
    return ClipFacts(parse_label(text) if text else None, width=width, height=height)


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def vendor_of(producer: str, vendors: Iterable[str]) -> str:
    """The declared vendor whose name shows in the label's producer; "" when none does."""
    text = producer.lower()
    for vendor in vendors:
        names = (vendor, *VENDOR_NAMES.get(vendor, ()))
        if any(name.lower() in text for name in names if name):
            return vendor
    return ""


def _resolution_matches(declared: str, facts: ClipFacts) -> bool:
    if not declared or not facts.width or not facts.height:
        return True
    text = declared.lower().replace("*", "x").replace("×", "x")
    if re.fullmatch(r"\d+x\d+", text):
        w, h = (int(n) for n in text.split("x"))
        return {w, h} == {facts.width, facts.height}
    found = re.fullmatch(r"(\d+)p", text)
    if found:
        return min(facts.width, facts.height) == int(found.group(1))
    return True


def check_clip(name: str, facts: ClipFacts, lines: Iterable[UsageLine]) -> ClipCheck:
    """Compare one clip with the declared lines (module docstring)."""
    items = list(lines)
    result = ClipCheck(name, facts)
    if facts.error:
        result.findings.append(facts.error)
        return result
    if facts.label is None:
        result.findings.append(_("片段“%(name)s”没有 AIGC 隐式标识") % {"name": name})
        return result
    vendors = sorted({line.vendor for line in items if line.vendor})
    producer = facts.label.get("ContentProducer", "")
    result.vendor = vendor_of(producer, vendors)
    if not result.vendor:
        result.findings.append(
            _("片段“%(name)s”的标识生成方“%(producer)s”不是申报的厂商（%(vendors)s）")
            % {"name": name, "producer": producer or "—", "vendors": "、".join(vendors) or "—"}
        )
    produce_id = facts.label.get("ProduceID", "")
    task = next((line for line in items if produce_id and line.task_id == produce_id), None)
    if task is not None:
        result.task_id = task.task_id
        declared = task.output_seconds
        if (
            declared is not None
            and facts.duration is not None
            and abs(declared - facts.duration) > DURATION_SLACK
        ):
            result.findings.append(
                _("片段“%(name)s”时长 %(clip)s 秒，与任务 %(task)s 记录的 %(declared)s 秒不符")
                % {
                    "name": name,
                    "clip": facts.duration.quantize(Decimal("0.1")),
                    "task": task.task_id,
                    "declared": declared,
                }
            )
        if not _resolution_matches(task.resolution, facts):
            result.findings.append(
                _("片段“%(name)s”分辨率 %(clip)s，与任务 %(task)s 记录的 %(declared)s 不符")
                % {"name": name, "clip": facts.resolution, "task": task.task_id, "declared": task.resolution}
            )
    return result
