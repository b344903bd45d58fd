"""``yingdu audit``: spot-check samples and reconciliation from the command line.

Examples::

    yingdu audit sample --quarter 2026Q3            # seed, checkpoint used, N, k and the sample
    yingdu audit sample --quarter 2026Q3 --json     # the same as JSON, with every candidate's order key
    yingdu audit sample --quarter 2026Q3 --open --user inspector   # also open (store) the spot check
    yingdu audit reconcile --application 42         # one application, against the latest checkpoint
    yingdu audit reconcile --all                    # every submitted application, set-wise

``sample`` only reads: anyone with a copy of the database can run it and must get the same
sample as the inspector's page. A quarter that cannot be sampled yet exits with status 2.
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from applications.models import Application
from audits import quarters, reconciliation, rules, spotchecks
from audits.models import SpotCheck
from audits.sampling import SampleUnavailable, compute_sample, sample_document


class Command(BaseCommand):
    help = _("核查：季度抽查样本与对账")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        sample = sub.add_parser("sample", help=_("计算某季度的抽查样本"))
        sample.add_argument("--quarter", required=True, help=_("季度，如 2026Q3"))
        sample.add_argument("--json", action="store_true", help=_("以 JSON 输出"))
        sample.add_argument("--open", action="store_true", help=_("同时发起（保存）该季度抽查"))
        sample.add_argument("--user", help=_("发起抽查的稽查人员用户名（与 --open 同用）"))
        reconcile = sub.add_parser("reconcile", help=_("对账"))
        which = reconcile.add_mutually_exclusive_group(required=True)
        which.add_argument("--application", type=int, help=_("申请编号（id）"))
        which.add_argument("--all", action="store_true", help=_("全部已提交的申请"))
        reconcile.add_argument("--json", action="store_true", help=_("以 JSON 输出"))
        reconcile.add_argument("--user", help=_("记为发起人的用户名（默认记为系统）"))

    def handle(self, *args: Any, **options: Any) -> None:
        if options["verb"] == "sample":
            self.sample(options)
        else:
            self.reconcile(options)

    def _user(self, username: str | None) -> Any:
        if not username:
            return None
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(_("用户“%(name)s”不存在") % {"name": username})
        return user

    def sample(self, options: dict[str, Any]) -> None:
        try:
            quarter = quarters.Quarter.parse(options["quarter"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        try:
            sample, checkpoint, params = compute_sample(quarter)
        except SampleUnavailable as exc:
            raise CommandError(str(exc), returncode=2) from exc
        spot = SpotCheck.objects.filter(quarter=str(quarter)).first()
        if options["open"]:
            user = self._user(options["user"])
            if user is None:
                raise CommandError(_("发起抽查须用 --user 指定稽查人员"))
            spot = spotchecks.open_spot_check(quarter, actor=user)
        doc = sample_document(sample, checkpoint, params, spot)
        if options["json"]:
            self.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2))
            return
        out = self.stdout.write
        out(_("季度：%(q)s") % {"q": doc["quarter"]})
        out(
            _("检查点：树大小 %(size)d，签署于 %(at)s")
            % {"size": doc["checkpoint"]["tree_size"], "at": doc["checkpoint"]["signed_at"]}
        )
        out(_("根哈希：%(root)s") % {"root": doc["checkpoint"]["root_hash_hex"]})
        out(_("种子：%(seed)s") % {"seed": doc["seed"]})
        out(_("算法：%(formula)s") % {"formula": doc["formula"]})
        out(
            _("参数：比例 %(rate)s，最少 %(min)d 件（政策版本 %(version)s）")
            % {"rate": doc["rate"], "min": doc["min_count"], "version": doc["policy_version"]}
        )
        out(_("候选 N = %(n)d，抽样 k = %(k)d") % {"n": doc["n"], "k": doc["k"]})
        out(_("样本：") + (" ".join(str(i) for i in doc["sample"]) or _("（无）")))
        for item in doc["candidates"][: doc["k"]]:
            out(f"  {item['application_id']}\t{item['reference'] or ''}\t{item['order_key']}")

    def reconcile(self, options: dict[str, Any]) -> None:
        user = self._user(options["user"])
        started = time.perf_counter()
        if options["all"]:
            runs = reconciliation.reconcile_many(actor=user)
        else:
            app = Application.objects.select_related("enterprise").filter(pk=options["application"]).first()
            if app is None:
                raise CommandError(_("申请 %(id)s 不存在") % {"id": options["application"]})
            runs = [reconciliation.run_reconciliation(app, actor=user)]
        elapsed = time.perf_counter() - started
        if options["json"]:
            doc = [
                {
                    "application_id": r.application_id,
                    "checkpoint_tree_size": r.checkpoint_tree_size,
                    "flags": r.flags,
                    "digest": r.digest,
                }
                for r in runs
            ]
            self.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2))
            return
        flagged = [r for r in runs if r.flag_count]
        for run in flagged:
            codes = "、".join(rules.flag_label(c) for c in run.flag_codes)
            self.stdout.write(f"{run.application_id}\t{codes}")
        self.stdout.write(
            _("已对账 %(n)d 件，其中 %(flagged)d 件有标记（检查点树大小 %(size)s，用时 %(secs).2f 秒）")
            % {
                "n": len(runs),
                "flagged": len(flagged),
                "size": runs[0].checkpoint_tree_size if runs else "-",
                "secs": elapsed,
            }
        )
