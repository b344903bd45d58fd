"""Benchmark of reading a vendor bill into usage lines (``applications.vendor_formats``).

    .venv/bin/python bench/vendor_bill.py                  # 100,000 lines of an 阿里云 费用明细 CSV
    .venv/bin/python bench/vendor_bill.py --lines 20000

Writes a 阿里云 console bill with grouped headers (UTF-8 with BOM, as the console exports it) of
``--lines`` rows, then times, on the same bytes:

- the platform's reading: format recognised from the content, every row checked and turned into a
  usage line (units mapped, money parsed, raw-row SHA-256), the subsidy base computed;
- the baseline: a bare ``csv.reader`` over the decoded text, the least any reading must do;

and prints lines per second for both and the ratio. Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yingdu.settings")
os.environ.setdefault("YINGDU_ENV", "test")

import django  # noqa: E402

django.setup()

from applications.usage_lines import subsidy_base  # noqa: E402
from applications.vendor_formats import parse_file  # noqa: E402

HEADER = (
    "账单信息/账单月份,账单信息/消费时间,产品信息/产品Code,产品信息/产品名称,产品信息/计费项名称,"
    "资源信息/地域,用量信息/用量,用量信息/用量单位,费用信息/目录总价,优惠信息/优惠金额,"
    "优惠券抵扣信息/优惠券抵扣金额,应付信息/应付金额（含税）,标识信息/账单明细ID,身份信息/资源购买账号ID"
)


def bill(lines: int) -> bytes:
    out = io.StringIO()
    out.write("\ufeff" + HEADER + "\n")
    for i in range(lines):
        day = 1 + i % 28
        if i % 3 == 0:
            row = f"2026-11,2026-11-{day:02d},sfm,大模型服务平台百炼,通义万相 视频生成,华北2（北京）,{5 + i % 10},秒,3.50,0.00,0.10,3.40"
        elif i % 3 == 1:
            row = f"2026-11,2026-11-{day:02d},sfm,大模型服务平台百炼,通义千问 输出,华北2（北京）,{i % 500},千tokens,0.80,0.00,0.00,0.80"
        else:
            row = f"2026-11,2026-11-{day:02d},ecs,GPU云服务器,ecs.gn7i 实例,华北2（北京）,1,小时,12.00,1.20,0.00,10.80"
        out.write(f"{row},ALI-{i:09d},1234567890123456\n")
    return out.getvalue().encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()
    content = bill(args.lines)
    now = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)

    started = time.perf_counter()
    result = parse_file("bill.csv", content, now=now)
    base = subsidy_base(result.lines)
    platform = time.perf_counter() - started
    assert result.format == "aliyun" and len(result.lines) == args.lines, result.rejections[:3]

    started = time.perf_counter()
    rows = sum(1 for _row in csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    bare = time.perf_counter() - started
    assert rows == args.lines + 1

    print(f"vendor bill: {args.lines:,} lines, {len(content) / 1e6:.1f} MB, subsidy base {base.total:,} 元")
    print(f"  platform reading : {platform:7.3f} s  {args.lines / platform:12,.0f} lines/s")
    print(f"  bare csv.reader  : {bare:7.3f} s  {args.lines / bare:12,.0f} lines/s")
    print(f"  ratio            : {platform / bare:7.1f} × the bare read")


if __name__ == "__main__":
    main()
