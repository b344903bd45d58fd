"""``yingdu calendar``: the working-day calendar from the command line.

Examples::

    yingdu calendar add-workdays 2026-09-20 30          # prints 2026-11-06
    yingdu calendar add-workdays --batch in.csv         # columns from,workdays -> adds deadline
    yingdu calendar load 2027.yaml [--user admin]       # docs/deadlines.md file format
    yingdu calendar show 2027                           # grade: official (with its source) or 暂定

A date decided by a provisional year is followed by "暂定" and the reason (in a batch, the
``provisional`` column). A date before the first known year exits with status 2 and names the
year on stderr.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any, TextIO

import yaml
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from core.lib.workdays import UnknownYearError, WorkdayCalendar
from policy.actions import load_holiday_year
from policy.batch import read_batch, write_batch
from policy.calendar import get_calendar, provisional_reason
from policy.models import HolidayYear


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(_("“%(value)s”不是有效日期（应为 YYYY-MM-DD）") % {"value": text}) from None


def _count(text: str) -> int:
    value = text.strip()
    if not value.isdigit():
        raise ValueError(_("工作日数“%(value)s”应为非负整数") % {"value": text})
    return int(value)


class Command(BaseCommand):
    help = _("工作日日历：推算工作日、载入和查看节假日安排")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        add = sub.add_parser("add-workdays", help=_("某日之后第 N 个工作日"))
        add.add_argument("date", nargs="?", help="YYYY-MM-DD")
        add.add_argument("workdays", nargs="?", help=_("工作日数"))
        add.add_argument(
            "--batch",
            metavar="IN.csv",
            help=_("批量：CSV 列 from,workdays，输出增加 deadline 列；“-”为标准输入"),
        )
        load = sub.add_parser("load", help=_("载入一年的节假日安排（YAML）"))
        load.add_argument("file", help="FILE.yaml")
        load.add_argument("--user", help=_("以该用户名记录载入人（默认记为系统）"))
        show = sub.add_parser("show", help=_("显示某年的节假日安排"))
        show.add_argument("year", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        verb = options["verb"]
        if verb == "add-workdays":
            self.add_workdays(options)
        elif verb == "load":
            self.load(options)
        else:
            self.show(options["year"])

    # -- add-workdays -----------------------------------------------------------------------------

    def add_workdays(self, options: dict[str, Any]) -> None:
        calendar = get_calendar()
        if options.get("batch"):
            read_batch(options["batch"], lambda handle: self.run_batch(handle, calendar))
            return
        if options.get("date") is None or options.get("workdays") is None:
            raise CommandError(
                _("用法：yingdu calendar add-workdays YYYY-MM-DD N（或 --batch IN.csv）"), returncode=2
            )
        try:
            start = _date(options["date"])
            result = calendar.add_workdays(start, _count(options["workdays"]))
        except (ValueError, UnknownYearError) as exc:
            raise CommandError(str(exc), returncode=2) from exc
        years = calendar.provisional_years(start, result)
        if years:
            self.stdout.write(f"{result.isoformat()} " + _("暂定（%(reason)s）") % {"reason": provisional_reason(years)})
        else:
            self.stdout.write(result.isoformat())

    def run_batch(self, handle: TextIO, calendar: WorkdayCalendar) -> None:
        reader = csv.DictReader(handle)
        header = [name.strip() for name in (reader.fieldnames or [])]
        missing = [name for name in ("from", "workdays") if name not in header]
        if missing:
            raise CommandError(_("CSV 缺少列：%(columns)s") % {"columns": ", ".join(missing)}, returncode=2)
        rows = []
        failed = 0
        any_provisional = False
        for raw in reader:
            row = {(key or "").strip(): (value or "") for key, value in raw.items()}
            out = {
                key: value for key, value in row.items() if key not in ("deadline", "provisional", "error")
            }
            try:
                start = _date(row["from"])
                deadline = calendar.add_workdays(start, _count(row["workdays"]))
            except (ValueError, UnknownYearError) as exc:
                failed += 1
                out.update(deadline="", provisional="", error=str(exc))
            else:
                years = calendar.provisional_years(start, deadline)
                any_provisional = any_provisional or bool(years)
                out.update(deadline=deadline.isoformat(), provisional=provisional_reason(years), error="")
            rows.append(out)
        # The provisional column appears only when a provisional year decided a date.
        output = ("deadline", "provisional") if any_provisional else ("deadline",)
        write_batch(self, header, rows, output, failed)

    # -- load / show ------------------------------------------------------------------------------

    def load(self, options: dict[str, Any]) -> None:
        path = Path(options["file"])
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CommandError(
                _("无法读取 %(path)s：%(error)s") % {"path": path, "error": exc.strerror}
            ) from exc
        except yaml.YAMLError as exc:
            raise CommandError(
                _("%(path)s 不是有效的 YAML：%(error)s") % {"path": path, "error": exc}
            ) from exc
        actor = None
        if options.get("user"):
            actor = get_user_model().objects.filter(username=options["user"]).first()
            if actor is None:
                raise CommandError(_("用户“%(name)s”不存在") % {"name": options["user"]})
        try:
            row = load_holiday_year(data, actor=actor)
        except ValidationError as exc:
            raise CommandError("\n".join(exc.messages)) from exc
        self.stdout.write(
            _("已载入 %(year)s 年节假日安排：放假 %(holidays)s 天，调休上班 %(workdays)s 天（%(source)s）")
            % {
                "year": row.year,
                "holidays": len(row.holidays),
                "workdays": len(row.workdays),
                "source": row.source,
            }
        )

    def show(self, year: int) -> None:
        calendar = get_calendar()
        try:
            schedule = calendar.schedule(year)
        except UnknownYearError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        row = HolidayYear.objects.filter(year=year).select_related("loaded_by").first()
        if schedule.provisional:
            origin = provisional_reason([year])
        elif row is not None:
            origin = _("管理员载入（%(who)s，%(when)s）") % {
                "who": row.loaded_by or _("系统"),
                "when": timezone.localtime(row.loaded_at).strftime("%Y-%m-%d %H:%M"),
            }
        else:
            origin = _("随平台内置")
        lines = [
            f"year: {year}",
            "grade: " + (_("暂定") if schedule.provisional else "official"),
            f"source: {schedule.source}",
            _("# 来源：%(origin)s；全年工作日 %(count)s 天")
            % {"origin": origin, "count": schedule.workday_count},
            "holidays: [" + ", ".join(d.isoformat() for d in sorted(schedule.holidays)) + "]",
            "workdays: [" + ", ".join(d.isoformat() for d in sorted(schedule.workdays)) + "]",
        ]
        self.stdout.write("\n".join(lines))
