"""``yingdu node``: register a provider's GPU node and its public key.

yingdu node add --provider 3 --node-id hz-gpu-017 --public-key "$(yingdu agent pubkey --key node.key)"
yingdu node disable --node-id hz-gpu-017
yingdu node list [--provider 3]
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from enterprises.models import Provider
from monitoring.actions import ProviderError, register_node, set_node_active
from monitoring.models import Node


class Command(BaseCommand):
    help = _("算力节点：登记节点公钥、停用和启用")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        add = sub.add_parser("add", help=_("登记节点及其Ed25519公钥"))
        add.add_argument("--provider", type=int, required=True, help=_("算力提供方编号"))
        add.add_argument("--node-id", required=True)
        add.add_argument("--public-key", required=True, help=_("Base64编码的32字节公钥"))
        for verb in ("disable", "enable"):
            p = sub.add_parser(verb)
            p.add_argument("--node-id", required=True)
        listing = sub.add_parser("list")
        listing.add_argument("--provider", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        verb = options["verb"]
        try:
            if verb == "add":
                provider = Provider.objects.filter(pk=options["provider"]).first()
                if provider is None:
                    raise CommandError(_("没有编号为%(id)d的算力提供方") % {"id": options["provider"]})
                node = register_node(provider, options["node_id"], options["public_key"], actor=None)
                self.stdout.write(
                    _("已登记节点 %(node)s（%(provider)s）")
                    % {"node": node.node_id, "provider": provider.name}
                )
            elif verb in ("disable", "enable"):
                found = Node.objects.filter(node_id=options["node_id"]).first()
                if found is None:
                    raise CommandError(_("节点“%(node)s”未登记") % {"node": options["node_id"]})
                set_node_active(found, verb == "enable", actor=None)
            else:
                nodes = Node.objects.select_related("provider").order_by("node_id")
                if options["provider"]:
                    nodes = nodes.filter(provider_id=options["provider"])
                for n in nodes:
                    state = "active" if n.active else "disabled"
                    self.stdout.write(f"{n.node_id}\t{n.provider_id}\t{state}\t{n.public_key}")
        except ProviderError as exc:
            raise CommandError(str(exc)) from exc
