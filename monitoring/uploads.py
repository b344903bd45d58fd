"""Usage files uploaded in the provider portal: the documented columns, the CSV template, and
how a rejection is named (file line and job id).

The columns are those of ``monitoring.schemas.RECORD_FIELDS``; the checks are the API's
(``monitoring.actions.import_usage_file`` → ``record_usage_batch``). This module only describes.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from enterprises.models import Provider
from monitoring.importers import CSV_DEFAULTS
from monitoring.models import Node, RejectedRecord, Scenario
from monitoring.schemas import FIELD_LABELS, RECORD_FIELDS

# A valid but unassigned USCC: the example row names no real enterprise.
EXAMPLE_USCC = "91110105MA00EXAMPJ"


@dataclass(frozen=True)
class Column:
    name: str
    meaning: str | Promise
    unit: str | Promise
    format: str | Promise
    required: bool
    example: str


COLUMNS = (
    Column("record_id", _l("记录编号；留空时由文件内容生成，同一文件重复导入不会重复计入"), "—",
           _l("UUID，如 3f2b…-…"), False, ""),
    Column("node_id", _l("上报节点标识，须为本单位已登记并启用的节点"), "—", _l("文本，最长64字符"), True, ""),
    Column("enterprise_uscc", _l("使用算力的企业的统一社会信用代码"), "—", _l("18位代码"), True, EXAMPLE_USCC),
    Column("work_ref", _l("作品备案号或项目编号"), "—", _l("文本"), True, "京剧备字2026001号"),  # i18n: data
    Column("job_id", _l("本单位调度系统中的作业编号，被拒时用于定位"), "—", _l("文本"), False, "job-20260301-001"),
    Column("scenario", _l("应用场景"), "—", _l("以下之一：%(values)s"), False, Scenario.TEXT2VIDEO.value),
    Column("gpu_model", _l("GPU型号"), "—", _l("文本"), True, "NVIDIA H200"),
    Column("gpu_uuid", _l("GPU卡的唯一标识（nvidia-smi -L 所示）；同一张卡的记录时间不得重叠"), "—",
           _l("文本"), True, "GPU-5d1e7a3c-0b2f-4c7e-9a61-2f4e8b3d9c10"),
    Column("gpu_count", _l("本记录计入的GPU卡数"), _l("卡"), _l("正整数"), False, "1"),
    Column("started_at", _l("开始时间"), "—", _l("ISO 8601，如 2026-03-01T08:00:00+08:00；不带时区按北京时间"),
           True, "2026-03-01T08:00:00+08:00"),
    Column("ended_at", _l("结束时间，须晚于开始时间且不晚于当前时间"), "—", _l("同开始时间"), True,
           "2026-03-01T09:00:00+08:00"),
    Column("gpu_seconds", _l("GPU使用时长（卡数×秒），不超过卡数×时间段长度"), _l("卡秒"), _l("数字"), True, "3600"),
    Column("avg_util_pct", _l("平均GPU利用率"), "%", _l("0至100的数字"), False, "87.5"),
    Column("max_mem_mib", _l("显存峰值"), "MiB", _l("非负整数"), False, "80211"),
    Column("energy_wh", _l("GPU能耗"), _l("瓦时"), _l("非负数字"), False, "650.2"),
    Column("cost_cny", _l("向企业收取的算力费用"), _l("元"), _l('最多两位小数的金额，如 32.50'), False, "32.50"),
)  # fmt: skip

# The ``sacct --parsable2`` columns read, in the order ``--format`` lists them.
SACCT_FORMAT = "JobID,JobName,Account,Start,End,Elapsed,AllocTRES,NodeList,Comment,ConsumedEnergyRaw,Cluster"
SACCT_COLUMNS = (
    ("JobID", _l("作业编号（job_id）；作业步（如 101.batch）不单独计入")),
    ("JobName", _l("作业名；作业未带标签时作为作品备案号（work_ref）")),
    ("Account", _l("Slurm账户；为有效的统一社会信用代码时作为企业代码")),
    ("Start", _l("开始时间（北京时间）")),
    ("End", _l("结束时间；未结束的作业（Unknown）不计入")),
    ("Elapsed", _l("运行时长，[天-]时:分:秒；乘以GPU卡数即卡秒")),
    ("AllocTRES", _l("分配的资源；从 gres/gpu=N 读取GPU卡数，没有GPU的作业不计入")),
    ("NodeList", _l("运行节点；未指定默认节点时取第一个节点作为节点标识")),
    ("Comment", _l("作业标签，由 sbatch --comment 设置：YINGDU_WORK_REF=…;YINGDU_ENTERPRISE_USCC=…")),
    ("ConsumedEnergyRaw", _l("能耗（焦耳），可选")),
    ("Cluster", _l("集群名，可选")),
)


def column_rows() -> list[dict[str, Any]]:
    """The documented columns for the format page, with the scenario values spelled out."""
    values = "、".join(f"{value}（{label}）" for value, label in Scenario.choices)
    rows = []
    for column in COLUMNS:
        fmt = str(column.format)
        if column.name == "scenario":
            fmt = fmt % {"values": values}
        default = CSV_DEFAULTS.get(column.name)
        rows.append(
            {
                "name": column.name,
                "meaning": column.meaning,
                "unit": column.unit,
                "format": fmt,
                "required": column.required,
                "default": "" if default in (None, "") else str(default),
            }
        )
    return rows


def template_csv(provider: Provider) -> bytes:
    """The CSV template: the header and one example row naming one of the provider's own nodes."""
    assert tuple(c.name for c in COLUMNS) == RECORD_FIELDS
    node = Node.objects.filter(provider=provider, active=True).order_by("node_id").first()
    example = {c.name: c.example for c in COLUMNS} | {"node_id": node.node_id if node else "hz-gpu-001"}
    example["scenario"] = str(Scenario(example["scenario"]).label)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    # Chinese headers with the field name in brackets: people read the one, the importer the other.
    writer.writerow([FIELD_LABELS[name] for name in RECORD_FIELDS])
    writer.writerow([example[name] for name in RECORD_FIELDS])
    # With a byte order mark, spreadsheet programs open the Chinese text as UTF-8.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def rejection_place(rejected: RejectedRecord) -> str:
    """Where the provider finds a rejected record: its file line and its job id."""
    parts = []
    if rejected.line is not None:
        parts.append(_("第%(line)d行") % {"line": rejected.line})
    if rejected.job_id:
        parts.append(_("作业%(job)s") % {"job": rejected.job_id})
    return "，".join(parts) or _("记录%(id)s") % {"id": rejected.record_id or "—"}

# A batch page lists this many rejections, in file order; the rest are counted.
MAX_LISTED_REJECTIONS = 1000
