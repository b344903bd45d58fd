"""The downloadable consumption-detail template: the columns :mod:`applications.consumption` reads,
with the rules and an example row on a second sheet."""

from __future__ import annotations

import csv
import io

from django.utils.translation import gettext as _

from applications.consumption import COLUMNS, HEADERS


def template_csv() -> bytes:
    """The CSV template: UTF-8 with a byte-order mark (so that Excel opens it as UTF-8), header only."""
    out = io.StringIO()
    csv.writer(out).writerow([str(HEADERS[c]) for c in COLUMNS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


EXAMPLE_ROW = (
    "JOB-20260301-0001",
    "2026-03-01 08:00",
    "2026-03-01 10:00",
    "H200",
    8,
    120,
    "12.50",
    "200.00",
    "文生视频",  # i18n: data (an accepted scenario word)
)


def template_xlsx() -> bytes:
    """The XLSX template: the header on the first sheet, the rules and an example on a second one."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = str(_("算力消耗明细"))
    sheet.append([str(HEADERS[c]) for c in COLUMNS])
    for index, _column in enumerate(COLUMNS, start=1):
        sheet.cell(row=1, column=index).font = Font(bold=True)
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = 20
    sheet.freeze_panes = "A2"
    notes = workbook.create_sheet(str(_("填写说明")))
    # The English column names the parser also accepts are documented for programs (docs/), not here.
    notes.append([str(_("列")), str(_("填写要求")), str(_("示例"))])
    rules = {
        "record_id": _("算力平台的作业或账单流水号，同一申请内不得重复"),
        "started_at": _("格式 2026-03-01 08:00，北京时间"),
        "ended_at": _("晚于开始时间，且不晚于当前时间"),
        "resource": _("算力卡型号，如 H200、A800"),
        "quantity": _("使用的卡数，整数"),
        "minutes": _("本条记录的算力使用时长（分钟），整数"),
        "unit_price": _("每卡每小时的单价（元）"),
        "amount": _("本条费用（元）= 数量 × 时长 ÷ 60 × 单价，保留两位小数；各行合计为申请表第23行"),
        "scenario": _("文生视频、图生视频、语音、微调、渲染或其他"),
    }
    for column, example in zip(COLUMNS, EXAMPLE_ROW, strict=True):
        notes.append([str(HEADERS[column]), str(rules[column]), example])
    for letter, width in zip("ABC", (18, 70, 22), strict=True):
        notes.column_dimensions[letter].width = width
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
