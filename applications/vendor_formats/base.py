"""What every vendor format's reader shares: the result of one file, rejected lines, value parsing."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.utils.functional import Promise
from django.utils.translation import gettext as _

from applications.usage_lines import UsageLine

BEIJING = ZoneInfo("Asia/Shanghai")
MAX_REJECTIONS = 200
MAX_LINES = 200_000


@dataclass(frozen=True)
class Rejection:
    """One line left out: the file, its line (1 = the first line; 0 = the file as a whole), the reason."""

    file_name: str
    line: int
    reason: str

    def message(self) -> str:
        if self.line:
            return _("%(file)s 第 %(line)d 行：%(reason)s") % {
                "file": self.file_name,
                "line": self.line,
                "reason": self.reason,
            }
        return _("%(file)s：%(reason)s") % {"file": self.file_name, "reason": self.reason}

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file_name, "line": self.line, "reason": self.reason}


@dataclass
class FileResult:
    """One file read: its recognised format, its good lines and its rejected lines."""

    file_name: str
    format: str = ""
    lines: list[UsageLine] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    records: int = 0  # records (rows, tasks) read, good and bad
    truncated: bool = False
    gpu_layout: bool = False  # the earlier GPU-only template (read by ``applications.consumption``)

    def reject(self, line: int, reason: str) -> None:
        if len(self.rejections) >= MAX_REJECTIONS:
            self.truncated = True
            return
        self.rejections.append(Rejection(self.file_name, line, reason))


class RowError(ValueError):
    """A bad value in a record: the message is the Chinese reason."""


def raw_sha256(raw: Any) -> str:
    """SHA-256 of a record as it stood in the file (a CSV row's cells, a JSON object canonicalised)."""
    if isinstance(raw, (dict, list)):
        text = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    elif isinstance(raw, (tuple, list)):
        text = "\x1f".join("" if c is None else str(c) for c in raw)
    else:
        text = str(raw)
    return hashlib.sha256(text.encode()).hexdigest()


def row_sha256(cells: Sequence[Any]) -> str:
    return hashlib.sha256("\x1f".join("" if c is None else str(c) for c in cells).encode()).hexdigest()


def decimal(
    value: Any, label: str | Promise, *, required: bool = True, negative: bool = False
) -> Decimal | None:
    """A number from a cell or a JSON value (strings with 千分位, ¥ and spaces allowed)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RowError(_("%(label)s不能为空") % {"label": label})
        return None
    if isinstance(value, bool):
        raise RowError(_("%(label)s“%(value)s”不是数字") % {"label": label, "value": value})
    if isinstance(value, float):
        value = repr(value)
    text = str(value).strip().replace(",", "").replace("，", "").removeprefix("¥").removeprefix("￥").strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise RowError(_("%(label)s“%(value)s”不是数字") % {"label": label, "value": value}) from None
    if not number.is_finite():
        raise RowError(_("%(label)s“%(value)s”不是数字") % {"label": label, "value": value})
    if number < 0 and not negative:
        raise RowError(_("%(label)s不能为负数") % {"label": label})
    return number


def money(value: Any, label: str | Promise) -> Decimal | None:
    number = decimal(value, label, required=False, negative=True)
    if number is None:
        return None
    return abs(number)  # vendors show deductions with either sign


_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y%m%d",
)


def moment(value: Any, label: str | Promise, *, required: bool = False) -> dt.datetime | None:
    """A time: ISO 8601, ``2026-03-01 08:00``, a date, or unix seconds / milliseconds; Beijing time when
    no zone is given."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RowError(_("%(label)s不能为空") % {"label": label})
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=BEIJING)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
        if seconds > 1e11:
            seconds /= 1000
        try:
            return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).astimezone(BEIJING)
        except (OverflowError, OSError, ValueError):
            raise RowError(
                _("%(label)s“%(value)s”不是有效的时间") % {"label": label, "value": value}
            ) from None
    text = str(value).strip()
    if re.fullmatch(r"\d{10}|\d{13}", text):
        return moment(int(text), label)
    parsed: dt.datetime | None = None
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for fmt in _FORMATS:
            try:
                parsed = dt.datetime.strptime(text, fmt)  # noqa: DTZ007 - zone added below
                break
            except ValueError:
                continue
    if parsed is None:
        raise RowError(_("%(label)s“%(value)s”不是有效的时间") % {"label": label, "value": value})
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=BEIJING)


def day_of(value: Any, label: str | Promise) -> dt.date | None:
    found = moment(value, label)
    return found.astimezone(BEIJING).date() if found is not None else None


def text(value: Any, limit: int = 128) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()[:limit]


def decode(content: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 — the encodings Chinese consoles export."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("gb18030")


def csv_rows(content: bytes) -> Iterator[list[str]]:
    yield from csv.reader(io.StringIO(decode(content), newline=""))


def header_key(value: Any) -> str:
    """A header compared without spaces, case, full-width brackets or the bracketed unit."""
    name = str(value or "").strip().lower().replace("（", "(").replace("）", ")")
    return re.sub(r"[\s_·\-]", "", name)


def json_item_lines(source: str, key: str, count: int) -> list[int]:
    """The line on which each element of the first array under ``key`` starts, for naming a bad record.

    Falls back to 0 (the file as a whole) when the array cannot be located."""
    found = re.search('"' + re.escape(key) + r'"\s*:\s*\[', source)
    if found is None:
        return [0] * count
    decoder = json.JSONDecoder()
    position = found.end()
    lines: list[int] = []
    line = source.count("\n", 0, position) + 1
    last = position
    while len(lines) < count:
        while position < len(source) and source[position] in " \t\r\n,":
            position += 1
        if position >= len(source) or source[position] == "]":
            break
        line += source.count("\n", last, position)
        last = position
        lines.append(line)
        try:
            _value, position = decoder.raw_decode(source, position)
        except ValueError:
            break
    return lines + [0] * (count - len(lines))


def unit_from_vendor(unit: str, category: str) -> tuple[str, Decimal] | None:
    """A vendor's unit name → (our unit, factor). ``None`` when unknown."""
    name = header_key(unit)
    factor = Decimal(1)
    for prefix, multiple in (
        ("千", 1000),
        ("万", 10_000),
        ("百万", 1_000_000),
        ("k", 1000),
        ("m", 1_000_000),
    ):
        if name.startswith(prefix) and len(name) > len(prefix):
            rest = name[len(prefix) :]
            if rest in ("tokens", "token", "字符", "个字符", "次", "张", "tokens)"):
                name, factor = rest, Decimal(multiple)
                break
    table = {
        "token": "token",
        "tokens": "token",
        "个token": "token",
        "字符": "character",
        "个字符": "character",
        "characters": "character",
        "张": "image",
        "images": "image",
        "image": "image",
        "次": "request",
        "requests": "request",
        "request": "request",
        "秒": "video_second" if category == "video" else "gpu_second",
        "s": "video_second" if category == "video" else "gpu_second",
        "second": "video_second" if category == "video" else "gpu_second",
        "seconds": "video_second" if category == "video" else "gpu_second",
        "小时": "instance_hour",
        "个小时": "instance_hour",
        "时": "instance_hour",
        "hour": "instance_hour",
        "hours": "instance_hour",
        "卡时": "instance_hour",
        "卡·小时": "instance_hour",
        "卡小时": "instance_hour",
        "分钟": "minute",
        "单位": "pack_unit",
        "点": "pack_unit",
    }
    found = table.get(name)
    if found is None:
        return None
    if found == "minute":
        return ("video_second" if category == "video" else "gpu_second", Decimal(60))
    return found, factor


def category_of(*names: str) -> str:
    joined = " ".join(names).lower()
    for words, category in (
        (
            (
                "视频",
                "video",
                "seedance",
                "万相",
                "wan2",
                "wanx",
                "kling",
                "可灵",
                "海螺",
                "vidu",
                "t2v",
                "i2v",
            ),
            "video",
        ),
        (("图像", "图片", "image", "seedream", "文生图"), "image"),
        (("语音", "tts", "speech", "配音", "cosyvoice", "音频"), "voice"),
        (
            (
                "gpu",
                "云服务器",
                "ecs",
                "实例",
                "弹性计算",
                "cvm",
                "gn7",
                "gn8",
                "h800",
                "a100",
                "h100",
                "h20",
                "l20",
            ),
            "gpu_instance",
        ),
        (("大模型", "文本", "llm", "chat", "qwen", "通义千问", "deepseek", "doubao", "豆包", "gpt"), "text"),
    ):
        if any(word in joined for word in words):
            return category
    return "other"
