"""Vendor exports read as they come (docs/usage-formats.md): the format is recognised from the content,
every record becomes usage lines, every bad or unrecognised record is named by file and line.

Format names: ``template`` (the platform's Chinese template, either layout), ``volcengine`` (火山引擎
bill detail, API JSON or console CSV), ``ark`` (火山方舟 generation tasks), ``aliyun`` (阿里云 费用明细
CSV), ``dashscope`` (百炼 task results), ``tencent`` (腾讯云 bill detail), ``kling`` (可灵 tasks and
resource packs), ``openai`` (OpenAI-style usage JSON lines).
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from applications.usage_lines import Base, BaseRules, UsageLine, in_file, quantities, subsidy_base
from applications.vendor_formats import aliyun, kling, openai, template, tencent, volcengine
from applications.vendor_formats.base import (
    MAX_LINES,
    FileResult,
    Rejection,
    RowError,
    decode,
    json_item_lines,
)
from core.lib.money import format_money

FORMATS: tuple[str, ...] = (
    "template",
    "volcengine",
    "ark",
    "aliyun",
    "dashscope",
    "tencent",
    "kling",
    "openai",
)
XLSX_MAGIC = b"PK\x03\x04"
MAX_FILE_BYTES = 64 * 1024 * 1024


def _table_rows(content: bytes) -> list[Sequence[Any]]:
    if content.startswith(XLSX_MAGIC):
        from openpyxl import load_workbook

        from core.filetypes import TABLE_MAX_COLUMNS, TABLE_MAX_ROWS

        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        try:
            sheet = workbook.worksheets[0]
            return [
                list(row)
                for row in sheet.iter_rows(
                    max_row=TABLE_MAX_ROWS + 1, max_col=TABLE_MAX_COLUMNS, values_only=True
                )
            ]
        finally:
            workbook.close()
    from applications.vendor_formats.base import csv_rows

    rows: list[Sequence[Any]] = []
    for row in csv_rows(content):
        rows.append(row)
        if len(rows) > MAX_LINES:
            break
    return rows


def _read_json(result: FileResult, source: str) -> bool:
    """Recognise and read a JSON or JSON-lines document; ``False`` when it is neither."""
    try:
        doc = json.loads(source)
    except ValueError:
        doc = None
        first = next((line for line in source.splitlines() if line.strip()), "")
        try:
            head = json.loads(first)
        except ValueError:
            return False
        if openai.is_usage_record(head):
            result.format = "openai"
            openai.read_lines(result, source)
            return True
        if aliyun.is_dashscope(head):
            result.format = "dashscope"
            _read_dashscope_lines(result, source)
            return True
        result.format = ""
        result.reject(1, _("无法识别的 JSON 行格式"))
        return True
    if volcengine.is_bill_json(doc):
        result.format = "volcengine"
        volcengine.read_bill_json(result, source, doc)
    elif volcengine.is_ark(doc):
        result.format = "ark"
        volcengine.read_ark(result, source, doc)
    elif tencent.is_bill_json(doc):
        result.format = "tencent"
        tencent.read_bill_json(result, source, doc)
    elif kling.is_costs(doc):
        result.format = "kling"
        kling.read_costs(result, source, doc)
    elif kling.is_task(doc):
        result.format = "kling"
        kling.read_tasks(result, source, doc)
    elif aliyun.is_dashscope(doc) or (isinstance(doc, list) and doc and aliyun.is_dashscope(doc[0])):
        result.format = "dashscope"
        items = doc if isinstance(doc, list) else [doc]
        numbers = _top_level_lines(source, len(items)) if isinstance(doc, list) else [1]
        for item, number in zip(items, numbers, strict=True):
            _dashscope(result, item, number)
    elif openai.is_usage_record(doc):
        result.format = "openai"
        openai.read_lines(result, json.dumps(doc, ensure_ascii=False))
    else:
        result.reject(0, _("无法识别的文件格式：不是平台模板，也不是已支持的厂商账单或任务记录"))
    return True


def _top_level_lines(source: str, count: int) -> list[int]:
    return json_item_lines('{"items":' + source + "}", "items", count) if count else []


def _dashscope(result: FileResult, item: Any, number: int) -> None:
    result.records += 1
    try:
        if not isinstance(item, Mapping):
            raise RowError(_("不是一条任务结果"))
        result.lines.append(aliyun.dashscope_line(item, number))
    except RowError as exc:
        result.reject(number, str(exc))


def _read_dashscope_lines(result: FileResult, source: str) -> None:
    for number, raw in enumerate(source.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except ValueError:
            result.records += 1
            result.reject(number, _("不是有效的 JSON"))
            continue
        _dashscope(result, item, number)


def parse_file(name: str, content: bytes, *, now: dt.datetime, vendor: str = "") -> FileResult:
    """Read one file of any supported format; never raises for bad content.

    ``vendor`` names the provider of rows that do not (the earlier GPU template's rows)."""
    result = FileResult(file_name=name)
    if len(content) > MAX_FILE_BYTES:
        result.reject(0, _("文件超过 64 MB，请拆分后上传"))
        return result
    try:
        _parse(result, content, now=now, vendor=vendor)
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        result.reject(0, _("无法读取文件（%(error)s）") % {"error": type(exc).__name__})
    except Exception as exc:  # openpyxl raises many kinds of errors for a damaged workbook
        result.reject(0, _("无法读取文件，文件可能已损坏（%(error)s）") % {"error": type(exc).__name__})
    result.lines = [in_file(line, name) for line in result.lines]
    if not result.lines and not result.rejections:
        result.reject(0, _("文件中没有用量记录"))
    return result


def _parse(result: FileResult, content: bytes, *, now: dt.datetime, vendor: str) -> None:
    if not content.startswith(XLSX_MAGIC):
        source = decode(content)
        if source.lstrip().startswith(("{", "[")) and _read_json(result, source):
            return
    rows = _table_rows(content)
    header_at = next((i for i, row in enumerate(rows) if any(c not in (None, "") for c in row)), None)
    if header_at is None:
        result.reject(0, _("文件中没有表头"))
        return
    rows = rows[header_at:]
    header = rows[0]
    if template.is_usage_template(header):
        result.format = "template"
        template.read_usage_template(result, rows, now=now)
    elif template.is_gpu_template(header):
        result.format = "template"
        mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        template.read_gpu_template(
            result, content, mime if content.startswith(XLSX_MAGIC) else "text/csv", now=now, vendor=vendor
        )
    elif volcengine.is_bill_csv(header):
        result.format = "volcengine"
        volcengine.read_bill_csv(result, rows)
    elif aliyun.is_bill_csv(header):
        result.format = "aliyun"
        aliyun.read_bill_csv(result, rows)
    else:
        result.reject(
            header_at + 1,
            _("无法识别的表头：请使用平台模板，或上传厂商导出的原始账单（火山引擎、阿里云、腾讯云等）"),
        )
    if header_at:
        result.rejections = [
            Rejection(r.file_name, r.line + header_at if r.line else 0, r.reason) for r in result.rejections
        ]
        result.lines = [replace(line, line_number=line.line_number + header_at) for line in result.lines]


@dataclass
class Evidence:
    """Several files read together: every file's result, all good lines, and the totals."""

    files: list[FileResult] = field(default_factory=list)

    @property
    def lines(self) -> list[UsageLine]:
        return [line for f in self.files for line in f.lines]

    @property
    def rejections(self) -> list[Rejection]:
        return [r for f in self.files for r in f.rejections]

    def base(self, rules: BaseRules | None = None) -> Base:
        return subsidy_base(self.lines, rules)

    def as_dict(self, rules: BaseRules | None = None) -> dict[str, Any]:
        """The ``yingdu consumption check --json`` document (keys in docs/usage-formats.md)."""
        base = self.base(rules)
        return {
            "files": [
                {
                    "file": f.file_name,
                    "format": f.format or None,
                    "lines": len(f.lines),
                    "records": f.records,
                    "rejected": [{"line": r.line, "reason": r.reason} for r in f.rejections],
                }
                for f in self.files
            ],
            "quantities": {unit: _number(value) for unit, value in sorted(quantities(self.lines).items())},
            "money": {
                "list": format_money(base.list_amount),
                "discount": format_money(base.discount),
                "coupon": format_money(base.coupons),
                "voucher": format_money(base.vouchers),
                "payable": format_money(base.payable),
                "paid": format_money(base.paid),
            },
            "subsidy_base": base.as_dict(),
        }


def _number(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def read_files(files: Iterable[tuple[str, bytes]], *, now: dt.datetime, vendor: str = "") -> Evidence:
    """Read several files as one declaration."""
    return Evidence([parse_file(name, content, now=now, vendor=vendor) for name, content in files])


def read_export(*, name: str, content: bytes, now: dt.datetime) -> dict[str, Any]:
    """A provider's bill export for the portal (``core.hooks.USAGE_EXPORT_READ``): the format, its
    lines as plain values (numbers as strings) and its rejected lines."""
    result = parse_file(name, content, now=now)
    lines = []
    for line in result.lines:
        values = line.as_dict()
        values["day"] = (
            line.day.isoformat()
            if line.day
            else (line.period_start.date().isoformat() if line.period_start else None)
        )
        lines.append(values)
    return {
        "format": result.format,
        "lines": lines,
        "rejected": [r.as_dict() for r in result.rejections],
    }


__all__ = ["FORMATS", "Evidence", "FileResult", "Rejection", "parse_file", "read_files"]
