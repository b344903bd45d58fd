"""Checks the platform ran on an application, shown to reviewers on the review page (docs/states.md).

Each check says what was compared and whether it passed; none of them decides anything.
Reconciliation with monitored usage arrives with the audits app.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from applications.checks import consumption_totals, with_filing_number
from applications.models import Application
from applications.states import HOLDS_FILING_NUMBER, Status
from review.clock import Clock
from yingdu.lib.money import display_money


@dataclass(frozen=True)
class CheckResult:
    label: str
    ok: bool | None  # None: could not be checked
    detail: str


def deadline_check(clock: Clock) -> CheckResult:
    label = _("办理时限")
    if clock.error:
        return CheckResult(label, None, clock.error)
    if clock.stage == "done":
        return CheckResult(
            label, True, _("兑现周期用时 %(n)s 个工作日（不含补正时间）") % {"n": clock.cycle_used}
        )
    if clock.next_due is None:
        return CheckResult(label, None, _("当前状态不计时"))
    if clock.paused:
        return CheckResult(label, True, _("等待企业补正，时限暂停计算"))
    if clock.overdue:
        return CheckResult(
            label,
            False,
            _("已逾期：%(stage)s %(due)s，兑现周期截止 %(cycle)s")
            % {"stage": clock.stage_label, "due": clock.due, "cycle": clock.cycle_due},
        )
    return CheckResult(
        label,
        True,
        _("%(stage)s %(due)s（剩余 %(left)s 个工作日）；兑现周期截止 %(cycle)s（剩余 %(cleft)s 个工作日）")
        % {
            "stage": clock.stage_label,
            "due": clock.due,
            "left": clock.left,
            "cycle": clock.cycle_due,
            "cleft": clock.cycle_left,
        },
    )


def duplicate_check(application: Application) -> CheckResult:
    label = _("备案编号重复")
    if not application.filing_number:
        return CheckResult(label, None, _("未填写备案编号"))
    others = list(
        with_filing_number(application.filing_number)
        .exclude(pk=application.pk)
        .values_list("reference", "status", "enterprise_name")
    )
    if not others:
        return CheckResult(
            label, True, _("没有其他申请使用备案编号 %(n)s") % {"n": application.filing_number}
        )
    live = [o for o in others if Status(o[1]) in HOLDS_FILING_NUMBER]
    listed = "；".join(
        _("%(reference)s %(name)s（%(status)s）")
        % {"reference": ref or _("草稿"), "name": name, "status": Status(status).label}
        for ref, status, name in others
    )
    return CheckResult(label, not live, _("其他申请使用同一备案编号：%(list)s") % {"list": listed})


def consumption_check(application: Application) -> CheckResult:
    label = _("算力消耗明细合计")
    totals = consumption_totals(application)
    if totals.files == 0:
        return CheckResult(label, None, _("没有可解析的明细表（CSV/XLSX）"))
    minutes_ok = totals.minutes == application.compute_minutes
    amount_ok = application.total_compute_cost is not None and totals.amount == application.total_compute_cost
    detail = _(
        "明细 %(rows)s 行：时长合计 %(minutes)s 分钟（第22项 %(row22)s），金额合计 %(amount)s 元（第23项 %(row23)s）"
    ) % {
        "rows": totals.rows,
        "minutes": totals.minutes,
        "row22": application.compute_minutes,
        "amount": display_money(totals.amount),
        "row23": "—" if application.total_compute_cost is None else display_money(application.total_compute_cost),
    }
    return CheckResult(label, minutes_ok and amount_ok, detail)


def run_checks(application: Application, clock: Clock) -> list[CheckResult]:
    return [deadline_check(clock), duplicate_check(application), consumption_check(application)]
