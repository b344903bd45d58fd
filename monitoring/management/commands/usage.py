"""``yingdu usage``: import usage files from providers without an agent.

    yingdu usage import usage.csv --provider 3 [--signature usage.csv.sig]
    sacct -a -X -P --noconvert --format=JobID,JobName,Account,Start,End,Elapsed,AllocTRES,NodeList,Comment \\
        > jobs.txt && yingdu usage import jobs.txt --provider 3 --gpu-model "NVIDIA H200" --price-per-gpu-hour 12.50

The detached signature is ``yingdu agent sign-file --key node.key FILE`` on the provider's
side; without one the records are stored flagged as unsigned. Prints the per-record
results as JSON lines with ``--json``, otherwise a summary and the rejections.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from enterprises.models import Provider
from monitoring.actions import ProviderError, import_usage_file
from monitoring.models import RejectedRecord
from monitoring.uploads import rejection_place


class Command(BaseCommand):
    help = _("算力使用记录：导入CSV或Slurm sacct文件")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        imp = sub.add_parser("import", help=_("导入使用记录文件（与接口上报相同的校验）"))
        imp.add_argument("file", type=Path)
        imp.add_argument("--provider", type=int, required=True, help=_("算力提供方编号"))
        imp.add_argument(
            "--signature",
            type=Path,
            metavar=_("签名文件"),
            help=_(
                "分离签名文件的路径：yingdu agent sign-file 对导入文件输出的签名（文件内容为一行Base64文本）"
            ),
        )
        imp.add_argument("--format", choices=["auto", "csv", "sacct"], default="auto")
        imp.add_argument("--json", action="store_true")
        slurm = imp.add_argument_group(_("sacct 导入的默认值"))
        slurm.add_argument("--node-id", default="")
        slurm.add_argument("--gpu-model", default="")
        slurm.add_argument("--enterprise-uscc", default="")
        slurm.add_argument("--work-ref", default="")
        slurm.add_argument("--scenario", default="other")
        slurm.add_argument("--price-per-gpu-hour", default="0.00")

    def handle(self, *args: Any, **options: Any) -> None:
        provider = Provider.objects.filter(pk=options["provider"]).first()
        if provider is None:
            raise CommandError(_("没有编号为%(id)d的算力提供方") % {"id": options["provider"]})
        if provider.status != Provider.Status.APPROVED:
            raise CommandError(_("算力提供方尚未获批准或已停用"))
        data = _read(options["file"], _("导入文件"))
        signature = _read(options["signature"], _("签名文件")).decode("ascii", "replace").strip() if options["signature"] else None
        defaults = {
            k: options[k]
            for k in ("node_id", "gpu_model", "enterprise_uscc", "work_ref", "scenario", "price_per_gpu_hour")
        }
        try:
            result = import_usage_file(
                provider,
                data,
                actor=None,
                actor_repr=f"cli:{options['file'].name}",
                signature_b64=signature,
                fmt=options["format"],
                defaults=defaults,
            )
        except (ProviderError, UnicodeDecodeError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False))
            return
        batch = result.batch
        self.stdout.write(
            _("共%(total)d条：接受%(accepted)d，重复%(duplicate)d，拒绝%(rejected)d；%(signed)s")
            % {
                "total": batch.total,
                "accepted": batch.accepted,
                "duplicate": batch.duplicate,
                "rejected": batch.rejected,
                "signed": _("已验证签名") if batch.signed else _("未签名，已标记待核查"),
            }
        )
        for rejected in RejectedRecord.objects.filter(batch=batch).order_by("line", "id"):
            self.stdout.write(f"{rejection_place(rejected)}\t{rejected.code}\t{rejected.reason}")


def _read(path: Path, what: str) -> bytes:
    """A file named on the command line, or a Chinese error naming it."""
    try:
        return path.read_bytes()
    except OSError:
        raise CommandError(
            _("无法读取%(what)s“%(path)s”：请给出已存在、可读的文件路径") % {"what": what, "path": path}
        ) from None
