"""``yingdu reports``: the center's figures and the yearly workbook from the command line.

Examples::

    yingdu reports summary --year 2026           # key figures as text
    yingdu reports summary --year 2026 --json    # the dashboard's data as JSON
    yingdu reports export --year 2026 -o 2026.xlsx [--user finance]

An export is an audit event (report.export), like one from the web page; ``--user`` names the
member of staff it is recorded for, otherwise it is recorded as the command line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.roles import STAFF_ROLES
from reports import queries
from reports.actions import record_export
from reports.exports import build_workbook


class Command(BaseCommand):
    help = _("统计报表：年度汇总与 Excel 导出")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        summary = sub.add_parser("summary", help=_("年度汇总"))
        summary.add_argument("--year", type=int, help=_("年度（默认今年）"))
        summary.add_argument("--json", action="store_true", help=_("输出与统计页面相同的 JSON 数据"))
        export = sub.add_parser("export", help=_("导出年度 Excel 报表"))
        export.add_argument("--year", type=int, help=_("年度（默认今年）"))
        export.add_argument("-o", "--output", required=True, help="FILE.xlsx")
        export.add_argument("--user", help=_("以该工作人员的名义记录导出（默认记为命令行）"))

    def handle(self, *args: Any, **options: Any) -> None:
        year = options.get("year") or timezone.localdate().year
        if options["verb"] == "summary":
            self.summary(year, as_json=options["json"])
        else:
            self.export(year, Path(options["output"]), options.get("user"))

    def summary(self, year: int, *, as_json: bool) -> None:
        data = queries.dashboard(year)
        if as_json:
            self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
            return
        totals = data["totals"]
        lines = [
            _("%(year)s年统计") % {"year": year},
            _("提交申请：%(n)s 件（审核中 %(review)s，已审批 %(approved)s，未通过 %(rejected)s）")
            % {
                "n": totals["submitted"],
                "review": totals["in_review"],
                "approved": totals["approved"],
                "rejected": totals["rejected"],
            },
            _("申请金额：%(requested)s 元；核定：%(granted)s 元；兑现：%(paid)s 元") % totals,
            _(
                "追回：%(clawed_back)s 元；缴回：%(repaid)s 元；核销：%(written_off)s 元；追回未结：%(outstanding)s 元"
            )
            % totals,
        ]
        budget = data["budget"]
        if budget:
            lines.append(
                _(
                    "年度预算：%(amount)s 元（%(reference)s），余额 %(left)s 元，核定占 %(granted_pct)s%%，兑现占 %(paid_pct)s%%"
                )
                % budget
            )
        else:
            lines.append(_("年度预算：未登记"))
        for label, key in ((_("审核时限"), "review"), (_("兑现时限"), "payment"), (_("兑现周期"), "cycle")):
            s = data["compliance"][key]
            rate = "—" if s["rate_pct"] is None else f"{s['rate_pct']}%"
            lines.append(
                _(
                    "%(label)s：按期 %(on_time)s，超期 %(late)s，超期未办结 %(overdue)s，办理中 %(open)s，达标率 %(rate)s"
                )
                % {**s, "label": label, "rate": rate}
            )
        ratings = data["ratings"]
        levels = "，".join(f"{row['label']} {row['count']}" for row in ratings["levels"])
        lines.append(
            _("好差评：%(total)s 件（%(levels)s）；差评回访：待回访 %(open)s，已回访 %(closed)s，逾期 %(overdue)s")
            % {"total": ratings["total"], "levels": levels, **ratings["follow_ups"]}
        )
        offers = data["offers"]
        lines.append(
            _(
                "达标即享：推送 %(offers)s 件，来自推送的申请 %(from_offer)s / %(submitted)s 件；"
                "上线至提交中位 %(a)s 个工作日，提交至兑现中位 %(b)s 个工作日；过期未领取 %(expired)s 件"
            )
            % {
                **offers,
                "a": "—" if offers["median_launch_to_submission"] is None else offers["median_launch_to_submission"],
                "b": "—" if offers["median_submission_to_payment"] is None else offers["median_submission_to_payment"],
            }
        )
        self.stdout.write("\n".join(lines))

    def export(self, year: int, output: Path, username: str | None) -> None:
        actor = None
        if username:
            actor = get_user_model().objects.filter(username=username).first()
            if actor is None:
                raise CommandError(_("用户“%(name)s”不存在") % {"name": username})
            if not actor.has_role(*STAFF_ROLES):
                raise CommandError(
                    _("用户“%(name)s”不是区文促中心工作人员，不能导出报表") % {"name": username}
                )
        content, rows = build_workbook(year)
        output.write_bytes(content)
        record_export(actor=actor, year=year, rows=rows, actor_repr="" if actor else "cli")
        self.stdout.write(_("已导出 %(year)s 年报表：%(path)s") % {"year": year, "path": output})
