"""``yingdu subsidy calc`` and ``yingdu subsidy params``: the subsidy rule from the command line.

Examples::

    yingdu subsidy calc --cost 50000 --minutes 60 --json
    yingdu subsidy calc --cost 40000 --minutes 80 --overseas --granted-this-year 30000
    yingdu subsidy calc --batch cases.csv > results.csv
    yingdu subsidy params --date 2026-06-01
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from core.lib.money import format_money, to_money
from policy.batch import read_batch, write_batch
from policy.loader import PolicyNotInForceError, PolicyParams, params_at
from policy.rules import SubsidyResult, calculate_subsidy

BATCH_INPUT = ("total_compute_cost", "work_minutes", "overseas", "granted_this_year")
BATCH_OUTPUT = ("amount", "binding")
YES = {"yes", "y", "true", "1", "是"}  # i18n: data (accepted input)
NO = {"no", "n", "false", "0", "否", ""}  # i18n: data (accepted input)


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(_("“%(value)s”不是有效日期（应为 YYYY-MM-DD）") % {"value": text}) from None


def parse_money(text: str, field: str) -> Decimal:
    try:
        amount = to_money(text)
    except (ValueError, TypeError):
        raise ValueError(
            _("%(field)s：“%(value)s”不是有效金额（至多两位小数）") % {"field": field, "value": text}
        ) from None
    if amount < 0:
        raise ValueError(_("%(field)s：金额不能为负数") % {"field": field})
    return amount


def parse_minutes(text: str) -> int:
    value = text.strip()
    if not value.isdigit():
        raise ValueError(_("work_minutes：“%(value)s”不是非负整数") % {"value": text})
    return int(value)


def parse_overseas(text: str) -> bool:
    value = text.strip().lower()
    if value in YES:
        return True
    if value in NO:
        return False
    raise ValueError(_("overseas：“%(value)s”应为 yes 或 no") % {"value": text})


class Command(BaseCommand):
    help = _("补贴测算：按政策参数计算算力补助金额")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        calc = sub.add_parser("calc", help=_("计算补助金额"))
        calc.add_argument("--cost", help=_("总算力成本（元）"))
        calc.add_argument("--minutes", help=_("作品制作时长（分钟）"))
        calc.add_argument("--overseas", action="store_true", help=_("出海发行"))
        calc.add_argument("--granted-this-year", default="0", help=_("本年度已获补助（元），默认 0"))
        calc.add_argument("--date", help=_("提交日期 YYYY-MM-DD，决定适用的政策版本；默认今天"))
        calc.add_argument("--json", action="store_true", help=_("输出 JSON"))
        calc.add_argument(
            "--batch",
            metavar="IN.csv",
            help=_(
                "批量计算：CSV 列 total_compute_cost,work_minutes,overseas,granted_this_year（可选 date）；“-”为标准输入"
            ),
        )
        params = sub.add_parser("params", help=_("显示某日生效的政策参数"))
        params.add_argument("--date", help=_("日期 YYYY-MM-DD，默认今天"))

    def handle(self, *args: Any, **options: Any) -> None:
        if options["verb"] == "params":
            self.show_params(options)
        elif options.get("batch"):
            self.calc_batch(options)
        else:
            self.calc_one(options)

    def _params(self, text: str | None) -> PolicyParams:
        try:
            day = parse_date(text) if text else timezone.localdate()
            return params_at(day)
        except (ValueError, PolicyNotInForceError) as exc:
            raise CommandError(str(exc), returncode=2) from exc

    def show_params(self, options: dict[str, Any]) -> None:
        params = self._params(options.get("date"))
        self.stdout.write(json.dumps(params.as_dict(), ensure_ascii=False, indent=2))

    def calc_one(self, options: dict[str, Any]) -> None:
        if options.get("cost") is None or options.get("minutes") is None:
            raise CommandError(_("需要 --cost 和 --minutes（或 --batch IN.csv）"), returncode=2)
        params = self._params(options.get("date"))
        try:
            result = calculate_subsidy(
                total_compute_cost=parse_money(options["cost"], "cost"),
                work_minutes=parse_minutes(options["minutes"]),
                overseas=bool(options["overseas"]),
                granted_this_year=parse_money(options["granted_this_year"], "granted-this-year"),
                params=params,
            )
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False))
        else:
            self.write_text(result)

    def write_text(self, result: SubsidyResult) -> None:
        for step in result.breakdown:
            self.stdout.write(f"{step.label}：{step.formula} = {format_money(step.value)}")
        self.stdout.write(
            _("补助金额 %(amount)s 元（%(binding)s，政策版本 %(version)s）")
            % {
                "amount": format_money(result.amount),
                "binding": result.binding_label,
                "version": result.policy_version,
            }
        )

    def calc_batch(self, options: dict[str, Any]) -> None:
        default_params = self._params(options.get("date"))
        read_batch(options["batch"], lambda handle: self.run_batch(handle, default_params))

    def run_batch(self, handle: TextIO, default_params: PolicyParams) -> None:
        reader = csv.DictReader(handle)
        header = [name.strip() for name in (reader.fieldnames or [])]
        missing = [name for name in BATCH_INPUT[:3] if name not in header]
        if missing:
            raise CommandError(_("CSV 缺少列：%(columns)s") % {"columns": ", ".join(missing)}, returncode=2)
        rows = []
        failed = 0
        for raw in reader:
            row = {(key or "").strip(): (value or "") for key, value in raw.items()}
            out = {key: value for key, value in row.items() if key not in (*BATCH_OUTPUT, "error")}
            try:
                params = params_at(parse_date(row["date"])) if row.get("date", "").strip() else default_params
                result = calculate_subsidy(
                    total_compute_cost=parse_money(row["total_compute_cost"], "total_compute_cost"),
                    work_minutes=parse_minutes(row["work_minutes"]),
                    overseas=parse_overseas(row["overseas"]),
                    granted_this_year=parse_money(row.get("granted_this_year") or "0", "granted_this_year"),
                    params=params,
                )
            except (ValueError, PolicyNotInForceError) as exc:
                failed += 1
                out.update(amount="", binding="", error=str(exc))
            else:
                out.update(amount=format_money(result.amount), binding=result.binding, error="")
            rows.append(out)
        write_batch(self, header, rows, BATCH_OUTPUT, failed)
