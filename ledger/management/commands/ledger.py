"""``yingdu ledger verify|checkpoint|key|export DIR|audit DIR --key KEY|verify-receipt FILE --key KEY|policy [--load FILE]|cosign``."""

from __future__ import annotations

import base64
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.utils.translation import gettext as _

from ledger import merkle, offline


class Command(BaseCommand):
    help = _("不可篡改日志：校验、签署检查点、公钥、导出与离线核验")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        p_verify = sub.add_parser("verify", help=_("重新计算整个日志，核对所有检查点，指出第一个异常的序号"))
        p_verify.add_argument(
            "--seen",
            action="append",
            default=[],
            metavar="PATH",
            help=_("导出目录或检查点文件：日志不得短于其中的检查点（可重复）"),
        )
        p_verify.add_argument(
            "--incremental",
            action="store_true",
            help=_("只校验上次校验通过之后新增的条目（以一致性证明与上次的检查点相连）"),
        )
        sub.add_parser("checkpoint", help=_("为当前日志签署检查点并输出"))
        sub.add_parser("seal-existing", help=_("为尚无日志条目的受校验记录补记日志（启用校验时执行一次）"))
        sub.add_parser("key", help=_("输出检查点验证公钥（signed-note 格式）"))
        p_export = sub.add_parser("export", help=_("以 C2SP tlog-tiles 格式导出日志"))
        p_export.add_argument("directory")
        p_audit = sub.add_parser("audit", help=_("离线核验导出的日志（不需要数据库）"))
        p_audit.add_argument("directory")
        p_audit.add_argument("--key", required=True, help=_("验证公钥，或保存公钥的文件"))
        p_audit.add_argument("--hash", choices=merkle.ALGORITHMS, default=None)
        p_receipt = sub.add_parser("verify-receipt", help=_("离线核验回执（不需要数据库）"))
        p_receipt.add_argument("file")
        p_receipt.add_argument("--key", required=True, help=_("验证公钥，或保存公钥的文件"))
        p_policy = sub.add_parser("policy", help=_("输出见证策略（C2SP tlog-policy），或用 --load 载入"))
        p_policy.add_argument("--load", metavar="FILE", help=_("载入见证方与法定数（tlog-policy 格式）"))
        sub.add_parser("cosign", help=_("立即请见证方副署最新检查点"))

    def handle(self, *args: Any, **options: Any) -> None:
        verb = options["verb"]
        # audit and verify-receipt must work without a database: no model import on their path.
        if verb == "audit":
            if offline.run_audit(options["directory"], options["key"], options["hash"], self.stdout) != 0:
                raise CommandError(_("导出的日志未通过核验"))
            return
        if verb == "verify-receipt":
            if offline.run_verify_receipt(options["file"], options["key"], self.stdout) != 0:
                raise CommandError(_("回执未通过核验"))
            return
        if verb == "verify":
            self._verify(options["seen"], options["incremental"])
        elif verb in ("policy", "cosign"):
            from ledger.witness_cli import run

            run(verb, options, self.stdout)
        elif verb == "seal-existing":
            from django.db import transaction

            from ledger.rows import covered_tables, seal_unsealed

            with transaction.atomic():
                total = sum(seal_unsealed(spec.model) for spec in covered_tables())
            self.stdout.write(_("已为 %(n)s 条记录补记日志") % {"n": total})
        elif verb == "checkpoint":
            from ledger.actions import sign_checkpoint

            self.stdout.write(sign_checkpoint(), ending="")
        elif verb == "key":
            from ledger.services import verifier_key

            self.stdout.write(verifier_key())
        elif verb == "export":
            from ledger.export import export_log

            cp = export_log(options["directory"])
            self.stdout.write(
                _("已导出 %(size)s 条，根哈希 %(root)s")
                % {"size": cp.size, "root": base64.b64encode(cp.root_hash).decode()}
            )

    def _verify(self, seen_elsewhere: list[str], incremental: bool) -> None:
        from ledger.verification import run_verification

        try:
            run = run_verification(
                actor=None, actor_repr="cli", seen_elsewhere=seen_elsewhere, incremental=incremental
            )
        except FileNotFoundError as exc:
            raise CommandError(_("找不到检查点文件：%(error)s") % {"error": exc}) from None
        except DatabaseError as exc:
            # Damage the checks could not read past (a dropped table, a column of the wrong type).
            raise CommandError(_("日志校验无法完成，数据库内容已损坏：%(error)s") % {"error": exc}) from None
        from ledger.witnessing import report_text

        self.stdout.write(report_text())
        root = base64.b64encode(bytes(run.root_hash)).decode()
        if run.ok:
            self.stdout.write(
                _("OK 日志完整：%(size)s 条，根哈希 %(root)s，核对检查点 %(cps)s 个")
                % {"size": run.tree_size, "root": root, "cps": run.checkpoints_checked}
            )
            return
        if run.first_bad_index is not None:
            self.stdout.write(_("FAIL 第一个异常的序号：%(index)s") % {"index": run.first_bad_index})
        for problem in run.problems:
            self.stdout.write(f"FAIL {problem['message']}")
        raise CommandError(_("日志校验未通过：发现 %(n)s 个问题") % {"n": len(run.problems)})
