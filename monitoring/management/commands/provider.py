"""``yingdu provider``: register compute providers and issue their API tokens.

yingdu provider add --name "怀柔智算中心" --json     # {"provider_id": 3, "token": "ydp_…"}
yingdu provider token --provider 3 [--name agent]   # another token (shown once)
yingdu provider list
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from enterprises.models import Provider
from monitoring.actions import ProviderError, create_provider, issue_token


class Command(BaseCommand):
    help = _("算力提供方：登记、签发接口令牌")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        add = sub.add_parser("add", help=_("登记一个已批准的算力提供方并签发令牌"))
        add.add_argument("--name", required=True)
        add.add_argument("--json", action="store_true", help=_("以JSON输出 provider_id 和 token"))
        token = sub.add_parser("token", help=_("为算力提供方签发新令牌"))
        token.add_argument("--provider", type=int, required=True, help=_("算力提供方编号"))
        token.add_argument("--name", default="")
        token.add_argument("--json", action="store_true")
        sub.add_parser("list", help=_("列出算力提供方"))

    def handle(self, *args: Any, **options: Any) -> None:
        verb = options["verb"]
        try:
            if verb == "add":
                provider, raw = create_provider(options["name"], actor=None)
                self._print_token(provider, raw, options["json"])
            elif verb == "token":
                provider = self._provider(options["provider"])
                _token, raw = issue_token(provider, actor=None, name=options["name"])
                self._print_token(provider, raw, options["json"])
            else:
                for p in Provider.objects.order_by("id"):
                    self.stdout.write(f"{p.pk}\t{p.status}\t{p.name}")
        except ProviderError as exc:
            raise CommandError(str(exc)) from exc

    @staticmethod
    def _provider(pk: int) -> Provider:
        provider = Provider.objects.filter(pk=pk).first()
        if provider is None:
            raise CommandError(_("没有编号为%(id)d的算力提供方") % {"id": pk})
        return provider

    def _print_token(self, provider: Provider, raw: str, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps({"provider_id": provider.pk, "token": raw}))
        else:
            self.stdout.write(_("算力提供方 %(id)d：%(name)s") % {"id": provider.pk, "name": provider.name})
            self.stdout.write(_("接口令牌（只显示这一次，请妥善保存）：%(token)s") % {"token": raw})
