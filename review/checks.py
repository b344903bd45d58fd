"""Checks the platform ran on an application, shown to reviewers on the review page (docs/states.md).

Each check says what was compared and whether it passed; none of them decides anything.
Reconciliation with monitored usage arrives with the audits app.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

from applications.checks import with_filing_number
from applications.models import Application
from applications.states import HOLDS_FILING_NUMBER, Status
from applications.usage_lines import TOTAL_UNITS, describe_base, quantity_text, summary_totals
from applications.usage_store import base_on, declared_lines, detail_materials
from core.lib.money import display_money
from review.clock import Clock


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
    """Row 23 against the base computed from the usage lines (docs/usage-formats.md); row 22 is not
    compared with the detail, whose lines are measured in their own units."""
    label = _("算力消耗明细合计")
    if not detail_materials(application):
        return CheckResult(label, None, _("没有可解析的明细（平台模板或厂商账单、任务记录）"))
    lines = declared_lines(application)
    day = application.submitted_at.date() if application.submitted_at else timezone.localdate()
    base = base_on(application, day)
    ok = application.total_compute_cost is not None and base.total == application.total_compute_cost
    totals = "，".join(
        f"{TOTAL_UNITS[key]} {quantity_text(value)}" for key, value in summary_totals(lines).items()
    )
    detail = _("明细 %(rows)s 行（%(totals)s）；%(base)s；第23项 %(row23)s 元") % {
        "rows": len(lines),
        "totals": totals or "—",
        "base": describe_base(base),
        "row23": "—"
        if application.total_compute_cost is None
        else display_money(application.total_compute_cost),
    }
    return CheckResult(label, ok, detail)


def run_checks(application: Application, clock: Clock) -> list[CheckResult]:
    return [deadline_check(clock), duplicate_check(application), consumption_check(application)]
