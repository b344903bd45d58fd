"""``yingdu send_deadline_reminders [--date YYYY-MM-DD]``: e-mail staff about items due soon or overdue.

Safe to re-run: each person is reminded of an application at most once a day.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from review.reminders import send_deadline_reminders


class Command(BaseCommand):
    help = _("向审核人员发送办理期限提醒（2 个工作日内到期或已逾期的申请）")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help=_("按该日期计算（YYYY-MM-DD），默认今天"))

    def handle(self, *args: Any, **options: Any) -> None:
        day = timezone.localdate()
        if options.get("date"):
            try:
                day = dt.date.fromisoformat(options["date"])
            except ValueError as exc:
                raise CommandError(_("日期格式应为 YYYY-MM-DD")) from exc
        count = send_deadline_reminders(day)
        self.stdout.write(
            _("%(day)s：已向 %(count)d 名工作人员发送期限提醒") % {"day": day.isoformat(), "count": count}
        )
