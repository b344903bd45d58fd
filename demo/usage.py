"""The demo's works are made the ways the industry buys compute (docs/usage-formats.md): GPU time metered
by the agent, a reseller's Seedance tokens, a 可灵 resource pack, 通义万相 generated seconds. Each detail's
subsidy base is exactly the work's row 23, so every story plays as before."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

WAYS = ("gpu", "reseller_seedance", "kling_pack", "wanx_seconds")
HEADER = (
    "记录编号,类型,厂商,代理方,代理方统一社会信用代码,模型或规格,任务编号,开始时间,结束时间,用量,单位,"
    "生成时长（秒）,分辨率,资源包编号,目录金额（元）,应付金额（元）,实付金额（元）,发票号码"
)
RESELLER = ("北京星河算力中转科技有限公司", "91110116MA02XHZZ3K")


def way_of(index: int) -> str:
    return WAYS[index % len(WAYS)]


def _invoice(index: int, part: int) -> str:
    return f"2611{index:08d}{part:08d}"


def _at(moment: dt.datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"


def detail(index: int, rows: dict[str, Any], start: dt.datetime) -> bytes | None:
    """The work's consumption detail in the usage template, or ``None`` for GPU time (the earlier layout)."""
    way = way_of(index)
    if way == "gpu":
        return None
    cost = Decimal(rows["total_compute_cost"])
    seconds = int(rows["work_minutes"]) * 60
    prefix = rows["filing_number"]
    end = start + dt.timedelta(days=10)
    lines = [HEADER]
    if way == "reseller_seedance":
        first = (cost / 2).quantize(Decimal("0.01"))
        for part, paid in enumerate((first, cost - first), start=1):
            tokens = seconds * 49_000  # ≈ 245,000 tokens per 5 s of 1080p
            list_price = (paid / Decimal("1.2")).quantize(Decimal("0.01"))
            lines.append(
                f"{prefix}-S{part},模型服务,火山方舟,{RESELLER[0]},{RESELLER[1]},doubao-seedance-1-0-pro,,"
                f"{_at(start)},{_at(end)},{tokens},token,{seconds},1080p,,{list_price},{paid},{paid},"
                f"{_invoice(index, part)}"
            )
    elif way == "kling_pack":
        pack = f"KL-DEMO-{index:04d}"
        lines.append(
            f"{prefix}-P,资源包购买,可灵,,,视频生成-1000单位,,{_at(start)},{_at(start)},1000,资源包单位,,,{pack},"
            f"{cost * 2},{cost * 2},{cost * 2},{_invoice(index, 1)}"
        )
        for part in (1, 2):  # 500 of the 1,000 units drawn: the base is half the pack's price
            lines.append(
                f"{prefix}-K{part},模型服务,可灵,,,kling-v2-1,{prefix}-K{part},{_at(start)},{_at(end)},250,"
                f"资源包单位,{seconds},1080p,{pack},,,,"
            )
    else:
        lines.append(
            f"{prefix}-W,模型服务,阿里云百炼,,,wanx2.1-t2v-plus,,{_at(start)},{_at(end)},{seconds * 2},生成视频秒,"
            f"{seconds * 2},1080p,,{cost},{cost},{cost},{_invoice(index, 1)}"
        )
    return ("\n".join(lines) + "\n").encode()
