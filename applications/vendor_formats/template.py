"""The platform's Chinese template (算力消耗明细单): the usage-line layout with unit and money columns,
and the earlier GPU-only layout (``applications.consumption``), still accepted."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Protocol

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from applications import consumption, consumption_file
from applications.usage_lines import UsageLine
from applications.vendor_formats.base import (
    FileResult,
    RowError,
    decimal,
    header_key,
    moment,
    money,
    row_sha256,
    text,
)
from core.lib.usage_vocabulary import APPLICANT_DECLARED, CATEGORIES, GPU_TIME, KINDS, PACK_PURCHASE, UNITS

# Column -> (Chinese header, accepted spellings). The first eleven are the ones a declaration needs.
COLUMNS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "record_id": (gettext_lazy("记录编号"), ("记录编号", "record_id", "流水号")),
    "kind": (gettext_lazy("类型"), ("类型", "kind", "用量类型")),
    "vendor": (gettext_lazy("厂商"), ("厂商", "vendor", "服务商", "上游厂商")),
    "reseller_name": (gettext_lazy("代理方"), ("代理方", "reseller", "reseller_name", "代理方名称")),
    "reseller_uscc": (gettext_lazy("代理方统一社会信用代码"), ("代理方统一社会信用代码", "reseller_uscc")),
    "account": (gettext_lazy("账号"), ("账号", "account", "接入点", "endpoint")),
    "category": (gettext_lazy("类别"), ("类别", "category")),
    "sku": (
        gettext_lazy("模型或规格"),
        ("模型或规格", "模型/规格", "模型", "规格", "sku", "model", "计费项"),
    ),
    "task_id": (gettext_lazy("任务编号"), ("任务编号", "task_id", "生成编号")),
    "started_at": (gettext_lazy("开始时间"), ("开始时间", "started_at", "start")),
    "ended_at": (gettext_lazy("结束时间"), ("结束时间", "ended_at", "end")),
    "quantity": (gettext_lazy("用量"), ("用量", "quantity")),
    "unit": (gettext_lazy("单位"), ("单位", "unit", "用量单位")),
    "output_seconds": (gettext_lazy("生成时长（秒）"), ("生成时长", "output_seconds", "输出时长")),
    "resolution": (gettext_lazy("分辨率"), ("分辨率", "resolution")),
    "unit_price": (gettext_lazy("单价（元）"), ("单价", "unit_price")),
    "list_amount": (gettext_lazy("目录金额（元）"), ("目录金额", "list_amount", "原价", "官网价")),
    "discount": (gettext_lazy("折扣优惠（元）"), ("折扣优惠", "discount", "优惠金额")),
    "coupon": (gettext_lazy("优惠券抵扣（元）"), ("优惠券抵扣", "coupon", "代金券抵扣")),
    "voucher": (gettext_lazy("算力券抵扣（元）"), ("算力券抵扣", "voucher", "算力券", "模型券抵扣")),
    "pack_units": (gettext_lazy("资源包抵扣（单位）"), ("资源包抵扣", "pack_units")),
    "pack_id": (gettext_lazy("资源包编号"), ("资源包编号", "pack_id")),
    "payable": (gettext_lazy("应付金额（元）"), ("应付金额", "payable")),
    "paid": (gettext_lazy("实付金额（元）"), ("实付金额", "paid", "现金实付")),
    "invoice_no": (gettext_lazy("发票号码"), ("发票号码", "invoice_no", "发票号")),
    "settlement_ref": (gettext_lazy("结算单号"), ("结算单号", "settlement_ref", "订单号")),
    "status": (gettext_lazy("任务状态"), ("任务状态", "status", "状态")),
}
REQUIRED = ("kind", "vendor", "quantity", "unit")
_INDEX = {header_key(alias): column for column, (_label, aliases) in COLUMNS.items() for alias in aliases}
_INDEX.update({header_key(str(label)): column for column, (label, _aliases) in COLUMNS.items()})

KIND_ALIASES = (
    {header_key(str(label)): kind for kind, label in KINDS.items()}
    | {
        "gpu": GPU_TIME,
        "gpu时长": GPU_TIME,
        "算力时长": GPU_TIME,
        "模型": "model_service",
        "模型调用": "model_service",
        "云资源": "cloud_resource",
        "资源包": PACK_PURCHASE,
        "会员": "subscription",
        "订阅": "subscription",
    }
    | {kind: kind for kind in KINDS}
)
CATEGORY_ALIASES = (
    {header_key(str(label)): cat for cat, label in CATEGORIES.items()}
    | {
        "视频": "video",
        "图像": "image",
        "图片": "image",
        "gpu实例": "gpu_instance",
        "gpu": "gpu_instance",
    }
    | {cat: cat for cat in CATEGORIES}
)
UNIT_ALIASES = (
    {header_key(str(label)): unit for unit, label in UNITS.items()}
    | {
        "秒": "video_second",
        "生成秒": "video_second",
        "视频秒": "video_second",
        "卡秒": "gpu_second",
        "卡时": "instance_hour",
        "卡·小时": "instance_hour",
        "卡小时": "instance_hour",
        "小时": "instance_hour",
        "tokens": "token",
        "千tokens": "token",
        "输入tokens": "input_token",
        "输出tokens": "output_token",
        "单位": "pack_unit",
        "点": "pack_unit",
    }
    | {unit: unit for unit in UNITS}
)
FAILED = {"failed", "失败", "cancelled", "canceled", "已取消", "取消", "expired", "已过期"}


def is_usage_template(header: Sequence[Any]) -> bool:
    keys = {_INDEX.get(header_key(cell)) for cell in header}
    return {"unit", "quantity", "kind"} <= keys and bool(keys & {"paid", "payable"})


def is_gpu_template(header: Sequence[Any]) -> bool:
    _mapping, missing = consumption.map_header(list(header))
    return not missing


def read_usage_template(result: FileResult, rows: Sequence[Sequence[Any]], *, now: dt.datetime) -> None:
    """Rows after the header (row 1) of the usage-line template."""
    header = rows[0]
    mapping: dict[str, int] = {}
    for index, cell in enumerate(header):
        column = _INDEX.get(header_key(cell))
        if column is not None and column not in mapping:
            mapping[column] = index
    seen: dict[str, int] = {}
    for number, cells in enumerate(rows[1:], start=2):
        if all(text(c) == "" for c in cells):
            continue
        result.records += 1
        try:
            line = _line(cells, mapping, number, now)
        except RowError as exc:
            result.reject(number, str(exc))
            continue
        key = line.task_id or line.bill_line_id
        if line.task_id and key in seen:
            result.reject(number, _("任务编号“%(id)s”与第 %(row)d 行重复") % {"id": key, "row": seen[key]})
            continue
        if line.task_id:
            seen[key] = number
        result.lines.append(line)


def _line(cells: Sequence[Any], mapping: dict[str, int], number: int, now: dt.datetime) -> UsageLine:
    def cell(column: str) -> Any:
        index = mapping.get(column)
        return cells[index] if index is not None and index < len(cells) else None

    kind = KIND_ALIASES.get(header_key(cell("kind")))
    if kind is None:
        raise RowError(
            _("类型“%(value)s”无效，应为：%(choices)s")
            % {"value": text(cell("kind")), "choices": "、".join(str(v) for v in KINDS.values())}
        )
    vendor = text(cell("vendor"))
    if not vendor:
        raise RowError(_("厂商不能为空"))
    unit = UNIT_ALIASES.get(header_key(cell("unit")))
    if unit is None:
        raise RowError(
            _("单位“%(value)s”无效，应为：%(choices)s")
            % {"value": text(cell("unit")), "choices": "、".join(str(v) for v in UNITS.values())}
        )
    quantity = decimal(cell("quantity"), _("用量"))
    assert quantity is not None
    if header_key(cell("unit")) == "千tokens":
        quantity *= 1000
    raw_category = header_key(cell("category"))
    category = CATEGORY_ALIASES.get(raw_category, "") if raw_category else ""
    if raw_category and not category:
        raise RowError(_("类别“%(value)s”无效") % {"value": text(cell("category"))})
    if not category:
        category = "gpu_instance" if kind == GPU_TIME else "video" if unit == "video_second" else "other"
    started = moment(cell("started_at"), _("开始时间"))
    ended = moment(cell("ended_at"), _("结束时间"))
    if started and ended and ended < started:
        raise RowError(_("结束时间应晚于开始时间"))
    for value in (started, ended):
        if value is not None and value > now:
            raise RowError(_("时间不能晚于当前时间"))
    amounts = {
        name: money(cell(name), str(COLUMNS[name][0]))
        for name in ("list_amount", "discount", "coupon", "voucher", "payable", "paid")
    }
    status = "failed" if text(cell("status")).lower() in FAILED else "succeeded"
    no_money = amounts["paid"] is None and amounts["payable"] is None
    drawn_from_pack = unit == "pack_unit" or bool(text(cell("pack_units")))
    if kind != PACK_PURCHASE and status == "succeeded" and no_money and not drawn_from_pack:
        raise RowError(_("应付金额与实付金额至少填写一项（资源包抵扣的行填写资源包抵扣单位）"))
    if kind == PACK_PURCHASE and amounts["paid"] is None:
        raise RowError(_("资源包购买须填写实付金额"))
    pack_units = decimal(cell("pack_units"), _("资源包抵扣"), required=False)
    if unit == "pack_unit" and kind != PACK_PURCHASE and pack_units is None:
        pack_units = quantity
    return UsageLine(
        kind=kind,
        vendor=vendor,
        quantity=quantity,
        unit=unit,
        source=APPLICANT_DECLARED,
        category=category,
        reseller_name=text(cell("reseller_name")),
        reseller_uscc=text(cell("reseller_uscc"), 18),
        account=text(cell("account")),
        sku=text(cell("sku")),
        task_id=text(cell("task_id")) or text(cell("record_id")),
        period_start=started,
        period_end=ended,
        day=when.date() if (when := started or ended) is not None else None,
        output_seconds=decimal(cell("output_seconds"), _("生成时长"), required=False),
        resolution=text(cell("resolution"), 32),
        unit_price=decimal(cell("unit_price"), _("单价"), required=False),
        pack_units=pack_units,
        pack_id=text(cell("pack_id")),
        invoice_no=text(cell("invoice_no"), 32),
        settlement_ref=text(cell("settlement_ref"), 64),
        raw_sha256=row_sha256(cells),
        status=status,
        line_number=number,
        list_amount=amounts["list_amount"],
        discount=amounts["discount"],
        coupon=amounts["coupon"],
        voucher=amounts["voucher"],
        payable=amounts["payable"],
        paid=amounts["paid"],
    )


class GpuRow(Protocol):
    """A row of the earlier GPU-only layout, as parsed (``consumption.ParsedRow``) or stored (``ConsumptionRow``)."""

    @property
    def row_number(self) -> int: ...

    @property
    def record_id(self) -> str: ...

    @property
    def started_at(self) -> dt.datetime: ...

    @property
    def ended_at(self) -> dt.datetime: ...

    @property
    def resource(self) -> str: ...

    @property
    def quantity(self) -> int: ...

    @property
    def minutes(self) -> int: ...

    @property
    def unit_price(self) -> Decimal: ...

    @property
    def amount(self) -> Decimal: ...


def gpu_row_line(row: GpuRow, *, vendor: str = "", file_name: str = "") -> UsageLine:
    """A row of the earlier GPU-only layout as a usage line: card-seconds, paid = its amount."""
    return UsageLine(
        kind=GPU_TIME,
        vendor=vendor,
        quantity=Decimal(row.quantity * row.minutes * 60),
        unit="gpu_second",
        source=APPLICANT_DECLARED,
        category="gpu_instance",
        sku=row.resource,
        task_id=row.record_id,
        period_start=row.started_at,
        period_end=row.ended_at,
        day=row.started_at.date(),
        unit_price=row.unit_price,
        payable=row.amount,
        paid=row.amount,
        file_name=file_name,
        line_number=row.row_number,
    )


def read_gpu_template(
    result: FileResult, content: bytes, mime: str, *, now: dt.datetime, vendor: str = ""
) -> None:
    """The earlier layout through its own parser; its row errors become rejected lines."""
    result.gpu_layout = True
    parsed = consumption_file.parse_consumption(content, mime, now=now, keep_good_rows=True)
    result.records = len(parsed.rows) + len({e.row for e in parsed.errors if e.row > 1})
    for error in parsed.errors:
        label = error.column_label
        result.reject(error.row, f"{label}：{error.message}" if label else error.message)
    result.lines.extend(gpu_row_line(row, vendor=vendor, file_name=result.file_name) for row in parsed.rows)


# --- the downloadable template -----------------------------------------------------------------

TEMPLATE_COLUMNS = (
    "record_id",
    "kind",
    "vendor",
    "reseller_name",
    "reseller_uscc",
    "category",
    "sku",
    "task_id",
    "started_at",
    "ended_at",
    "quantity",
    "unit",
    "output_seconds",
    "resolution",
    "unit_price",
    "list_amount",
    "discount",
    "coupon",
    "voucher",
    "pack_units",
    "pack_id",
    "payable",
    "paid",
    "invoice_no",
    "settlement_ref",
    "status",
)
EXAMPLES: tuple[tuple[str, ...], ...] = (
    (
        "S-001", "模型服务", "火山方舟", "某某科技有限公司", "", "视频生成", "doubao-seedance-1-0-pro", "",
        "2026-11-03 08:00", "2026-11-03 20:00", "2450000", "token", "50", "1080p", "", "36.75", "", "",
        "", "", "", "44.10", "44.10", "26112000000012345678", "", "",
    ),
    (
        "K-001", "资源包购买", "可灵", "", "", "视频生成", "视频生成-100单位", "", "2026-11-01 10:00", "",
        "100", "资源包单位", "", "", "", "300.00", "", "", "", "", "PACK-1", "300.00", "300.00",
        "26112000000012345679", "", "",
    ),
    (
        "K-002", "模型服务", "可灵", "", "", "视频生成", "kling-v2-1", "CjMzP2pjHvcAAAAAANzBAg",
        "2026-11-04 09:00", "2026-11-04 09:05", "2", "资源包单位", "5", "1080p", "", "", "", "", "", "2",
        "PACK-1", "", "", "", "", "",
    ),
)  # fmt: skip
RULES = {
    "record_id": gettext_lazy("本表内的行编号，可留空"),
    "kind": gettext_lazy("GPU 算力时长、模型服务、云资源、资源包购买或会员订阅"),
    "vendor": gettext_lazy("提供服务的厂商，如 火山方舟、可灵、阿里云百炼、某智算中心"),
    "reseller_name": gettext_lazy("经代理方（中转方）购买的，填写代理方名称"),
    "reseller_uscc": gettext_lazy("代理方的统一社会信用代码"),
    "category": gettext_lazy("视频生成、图像生成、文本、语音、GPU 实例或其他"),
    "sku": gettext_lazy("模型名称或计费项"),
    "task_id": gettext_lazy("厂商返回的任务或生成编号（如方舟 cgt-…）"),
    "started_at": gettext_lazy("格式 2026-03-01 08:00，北京时间"),
    "ended_at": gettext_lazy("不早于开始时间，不晚于当前时间"),
    "quantity": gettext_lazy("用量数值"),
    "unit": gettext_lazy(
        "卡·秒、卡时、token、输入 token、输出 token、生成视频秒、张、字符、资源包单位、实例·小时、次"
    ),
    "output_seconds": gettext_lazy("生成视频的时长（秒），已知时填写"),
    "resolution": gettext_lazy("如 1080p 或 1920x1080"),
    "unit_price": gettext_lazy("单价（元），可留空"),
    "list_amount": gettext_lazy("目录价（元）"),
    "discount": gettext_lazy("折扣优惠（元）"),
    "coupon": gettext_lazy("厂商优惠券、代金券抵扣（元），不计入总算力成本"),
    "voucher": gettext_lazy("任何政策发放的算力券、模型券抵扣（元），不计入总算力成本"),
    "pack_units": gettext_lazy("从资源包中抵扣的单位数；按资源包实付单价计入"),
    "pack_id": gettext_lazy("资源包编号：购买行与抵扣行填写同一编号"),
    "payable": gettext_lazy("应付金额（元）"),
    "paid": gettext_lazy("实际支付的现金（元），计入总算力成本"),
    "invoice_no": gettext_lazy("数电发票号码（20 位）"),
    "settlement_ref": gettext_lazy("订单号或结算单号"),
    "status": gettext_lazy("失败或已取消的任务填写“失败”或“已取消”，不计费用"),
}


def template_csv() -> bytes:
    """The usage-layout CSV template: UTF-8 with a byte-order mark (Excel opens it as UTF-8), header only."""
    import csv
    import io

    out = io.StringIO()
    csv.writer(out).writerow([str(COLUMNS[c][0]) for c in TEMPLATE_COLUMNS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def template_xlsx() -> bytes:
    """The usage-layout XLSX template: the header, then the rules and examples on a second sheet."""
    import io

    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = str(_("算力消耗明细"))
    sheet.append([str(COLUMNS[c][0]) for c in TEMPLATE_COLUMNS])
    for index in range(1, len(TEMPLATE_COLUMNS) + 1):
        sheet.cell(row=1, column=index).font = Font(bold=True)
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = 18
    sheet.freeze_panes = "A2"
    notes = workbook.create_sheet(str(_("填写说明")))
    notes.append([str(_("列")), str(_("填写要求")), str(_("示例一")), str(_("示例二")), str(_("示例三"))])
    for position, column in enumerate(TEMPLATE_COLUMNS):
        notes.append([str(COLUMNS[column][0]), str(RULES[column]), *(row[position] for row in EXAMPLES)])
    for letter, width in zip("ABCDE", (20, 60, 24, 24, 24), strict=True):
        notes.column_dimensions[letter].width = width
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
