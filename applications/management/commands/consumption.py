"""``yingdu consumption check FILE... [--json]``: read consumption evidence as the platform reads it.

Prints, per file, the recognised format, its record and line counts and its rejected lines (file line
number and reason); then, over all files, the quantity per unit, the money columns and the subsidy
base (docs/usage-formats.md, where the JSON keys are described). Nothing is stored. Exits with 1 when
a line was rejected or a file not recognised, else 0.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from applications.usage_lines import BaseRules, unit_label
from applications.vendor_formats import read_files
from policy.loader import PolicyNotInForceError, params_at

MONEY_LABELS: dict[str, Any] = {
    "list": gettext_lazy("目录金额"),
    "discount": gettext_lazy("折扣优惠"),
    "coupon": gettext_lazy("优惠券抵扣"),
    "voucher": gettext_lazy("算力券抵扣"),
    "payable": gettext_lazy("应付金额"),
    "paid": gettext_lazy("实付金额"),
}


class Command(BaseCommand):
    help = _("算力消耗明细：检查平台模板与厂商导出的账单、任务记录")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        check = sub.add_parser("check", help=_("读取文件，列出格式、未计入的行、各单位用量与补助基数"))
        check.add_argument("files", nargs="+", help=_("明细文件（CSV、XLSX、JSON 或 JSON Lines）"))
        check.add_argument("--json", action="store_true", help=_("以 JSON 输出"))

    def handle(self, *args: Any, **options: Any) -> None:
        contents = []
        for name in options["files"]:
            path = Path(name)
            try:
                contents.append((path.name, path.read_bytes()))
            except OSError as exc:
                raise CommandError(
                    _("无法读取文件“%(name)s”：%(error)s") % {"name": name, "error": exc.strerror}
                ) from None
        now = timezone.now()
        try:
            rules = BaseRules.from_params(params_at(timezone.localdate()))
        except PolicyNotInForceError:
            rules = BaseRules()
        evidence = read_files(contents, now=now)
        doc = evidence.as_dict(rules)
        if options["json"]:
            self.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2))
        else:
            self._print(doc)
        if any(f["rejected"] or not f["format"] for f in doc["files"]):
            raise SystemExit(1)

    def _print(self, doc: dict[str, Any]) -> None:
        for item in doc["files"]:
            self.stdout.write(
                _(
                    "%(file)s：格式 %(format)s，记录 %(records)d 条，用量行 %(lines)d 行，未计入 %(rejected)d 行"
                )
                % {
                    "file": item["file"],
                    "format": item["format"] or _("无法识别"),
                    "records": item["records"],
                    "lines": item["lines"],
                    "rejected": len(item["rejected"]),
                }
            )
            for rejected in item["rejected"]:
                where = (
                    _("第 %(line)d 行") % {"line": rejected["line"]} if rejected["line"] else _("整个文件")
                )
                self.stdout.write(f"  {where}：{rejected['reason']}")
        self.stdout.write(_("用量合计："))
        for unit, quantity in doc["quantities"].items():
            self.stdout.write(f"  {unit_label(unit)}：{quantity}")
        self.stdout.write(_("金额合计（元）："))
        for key, value in doc["money"].items():
            self.stdout.write(f"  {MONEY_LABELS[key]}：{value}")
        base = doc["subsidy_base"]
        self.stdout.write(
            _(
                "补助基数（现金实付）：%(base)s 元 = 现金 %(cash)s + 资源包折算 %(packs)s（不计优惠券 %(coupons)s、算力券 %(vouchers)s）"
            )
            % base
        )
        for vendor, units in base["unpriced_pack_units"].items():
            self.stdout.write(
                _(
                    "  %(vendor)s 资源包抵扣 %(units)s 单位未计价：请在模板中填写资源包购买行（资源包编号与实付金额）"
                )
                % {"vendor": vendor, "units": units}
            )
