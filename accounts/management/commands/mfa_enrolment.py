"""``yingdu mfa_enrolment USERNAME``: print a one-time link for a staff member to bind a TOTP authenticator.

For the operator (the first security administrator has nobody to issue theirs) and for the
demo; afterwards the security administrator issues links on the platform. Audited as issued
by the system.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from accounts.actions import issue_mfa_enrolment, mfa_enrolment_path
from accounts.models import User


class Command(BaseCommand):
    help = _("为工作人员或管理员签发一次性动态口令绑定链接")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help=_("登录用户名"))

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(_("没有用户名为“%(username)s”的账号") % {"username": options["username"]})
        try:
            token = issue_mfa_enrolment(user, actor=None)
        except ValidationError as exc:
            raise CommandError("；".join(exc.messages)) from exc
        link = settings.SITE_URL.rstrip("/") + mfa_enrolment_path(token)
        hours = settings.MFA_ENROLMENT_HOURS
        self.stdout.write(
            _("%(username)s 的绑定链接（%(hours)s 小时内有效，仅可使用一次，须先用本人密码登录）：")
            % {"username": user.username, "hours": hours}
        )
        self.stdout.write(link)
