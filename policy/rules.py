"""The subsidy calculation (算力补助金额), as pure functions: no ORM, no I/O.

Implements 中国影都AI算力补助实施办法 三（一）–（三) as read by docs/subsidy.md::

    by_rate     = round_half_up(total_compute_cost × rate, 0.01)
    by_minutes  = work_minutes × per_minute_cap
    by_work     = per_work_cap
    annual_left = annual_cap − granted this (submission) year, clawed-back awards excluded
    amount      = min(by_rate, by_minutes, by_work, max(annual_left, 0))

``binding`` names the term that gave the minimum; on ties the first in the order above wins.
Every number comes from the :class:`~policy.loader.PolicyParams` passed in.

When the *shape* of the rule changes (not just a number), add a new dated function
``formula_YYYY_MM`` next to the old one and register it in ``FORMULAS``; :func:`calculate_subsidy`
picks the one in force on the parameters' version date (OpenFisca's per-period formulas).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from django.utils.translation import gettext as _

from core.lib.money import display_money, format_money, round_half_up
from policy.loader import PolicyParams

Binding = Literal["rate", "per_minute_cap", "per_work_cap", "annual_cap"]
BINDING_ORDER: tuple[Binding, ...] = ("rate", "per_minute_cap", "per_work_cap", "annual_cap")
ZERO = Decimal("0.00")


def binding_label(binding: str) -> str:
    """Chinese name of a binding term, for pages and CSV exports."""
    labels = {
        "rate": _("按比例计算"),
        "per_minute_cap": _("每分钟上限"),
        "per_work_cap": _("单部作品上限"),
        "annual_cap": _("企业年度上限"),
    }
    return labels.get(binding, binding)


@dataclass(frozen=True)
class BreakdownStep:
    """One readable step of a calculation: what was computed, how, and the result."""

    code: str
    label: str
    formula: str
    value: Decimal

    def as_dict(self) -> dict[str, str]:
        return {
            "code": self.code,
            "label": self.label,
            "formula": self.formula,
            "value": format_money(self.value),
        }


@dataclass(frozen=True)
class SubsidyResult:
    """A computed subsidy with every term, the binding one, and the policy version used."""

    amount: Decimal
    binding: Binding
    by_rate: Decimal
    by_minutes: Decimal
    by_work: Decimal
    annual_left: Decimal
    rate: Decimal
    policy_version: str
    overseas: bool
    breakdown: list[BreakdownStep] = field(default_factory=list, hash=False)

    @property
    def binding_label(self) -> str:
        return binding_label(self.binding)

    @property
    def amount_display(self) -> str:
        return display_money(self.amount)

    @property
    def rate_display(self) -> str:
        return _percent(self.rate)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly: money as two-decimal strings, the rate as a decimal string."""
        return {
            "amount": format_money(self.amount),
            "binding": self.binding,
            "by_rate": format_money(self.by_rate),
            "by_minutes": format_money(self.by_minutes),
            "by_work": format_money(self.by_work),
            "annual_left": format_money(self.annual_left),
            "rate": format_rate(self.rate),
            "overseas": self.overseas,
            "policy_version": self.policy_version,
            "breakdown": [step.as_dict() for step in self.breakdown],
        }


def format_rate(rate: Decimal) -> str:
    """``0.3`` → ``"0.30"``: at least two decimals, more only when the rate has them."""
    return str(rate.quantize(Decimal("0.01"))) if rate == rate.quantize(Decimal("0.01")) else str(rate)


def _percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize().to_eng_string()}%"


def _check_inputs(total_compute_cost: Decimal, work_minutes: int, granted_this_year: Decimal) -> None:
    if not isinstance(total_compute_cost, Decimal) or not total_compute_cost.is_finite():
        raise TypeError("total_compute_cost must be a finite Decimal")
    if not isinstance(granted_this_year, Decimal) or not granted_this_year.is_finite():
        raise TypeError("granted_this_year must be a finite Decimal")
    if isinstance(work_minutes, bool) or not isinstance(work_minutes, int):
        raise TypeError("work_minutes must be an int")
    if total_compute_cost < 0:
        raise ValueError(_("总算力成本不能为负数"))
    if work_minutes < 0:
        raise ValueError(_("作品制作时长不能为负数"))
    if granted_this_year < 0:
        raise ValueError(_("本年度已获补助金额不能为负数"))


def formula_2026_02(
    *,
    total_compute_cost: Decimal,
    work_minutes: int,
    overseas: bool,
    granted_this_year: Decimal,
    params: PolicyParams,
) -> SubsidyResult:
    """The rule of the 2026 implementation measures, 三（一）–（三）: the least of a share of the
    compute cost, a per-minute cap, a per-work cap and the enterprise's annual quota left."""
    rate = params.rate(overseas=overseas)
    per_minute_cap = params.per_minute_cap(overseas=overseas)
    by_rate = round_half_up(total_compute_cost * rate)
    by_minutes = round_half_up(work_minutes * per_minute_cap)
    by_work = round_half_up(params.per_work_cap(overseas=overseas))
    annual_left = round_half_up(params.annual_cap - granted_this_year)
    quota = max(annual_left, ZERO)
    terms: dict[Binding, Decimal] = {
        "rate": by_rate,
        "per_minute_cap": by_minutes,
        "per_work_cap": by_work,
        "annual_cap": quota,
    }
    amount = min(terms.values())
    binding = next(name for name in BINDING_ORDER if terms[name] == amount)
    kind = _("出海发行") if overseas else _("境内发行")
    breakdown = [
        BreakdownStep(
            "rate",
            _("按比例计算"),
            _("总算力成本 %(cost)s 元 × 补助比例 %(rate)s（%(kind)s），四舍五入到分")
            % {"cost": display_money(total_compute_cost), "rate": _percent(rate), "kind": kind},
            by_rate,
        ),
        BreakdownStep(
            "per_minute_cap",
            _("按分钟上限"),
            _("作品制作时长 %(minutes)s 分钟 × 每分钟上限 %(cap)s 元")
            % {"minutes": work_minutes, "cap": display_money(per_minute_cap)},
            by_minutes,
        ),
        BreakdownStep(
            "per_work_cap",
            _("单部作品上限"),
            _("%(kind)s单部短剧补助上限 %(cap)s 元") % {"kind": kind, "cap": display_money(by_work)},
            by_work,
        ),
        BreakdownStep(
            "annual_cap",
            _("年度剩余额度"),
            _("企业年度上限 %(cap)s 元 − 本年度已获补助 %(granted)s 元，不足时按 0 计")
            % {"cap": display_money(params.annual_cap), "granted": display_money(granted_this_year)},
            quota,
        ),
        BreakdownStep(
            "amount",
            _("补助金额"),
            _("取以上四项的最小值，起决定作用的是“%(binding)s”") % {"binding": binding_label(binding)},
            amount,
        ),
    ]
    return SubsidyResult(
        amount=amount,
        binding=binding,
        by_rate=by_rate,
        by_minutes=by_minutes,
        by_work=by_work,
        annual_left=annual_left,
        rate=rate,
        policy_version=params.version,
        overseas=overseas,
        breakdown=breakdown,
    )


Formula = Callable[..., SubsidyResult]

# Start of each rule shape; the parameters' version date picks the latest one started.
FORMULAS: tuple[tuple[dt.date, Formula], ...] = ((dt.date(2026, 2, 1), formula_2026_02),)


def formula_for(params: PolicyParams) -> Formula:
    """The rule function in force on the parameters' version date."""
    chosen = None
    for start, formula in FORMULAS:
        if start <= params.effective_from:
            chosen = formula
    if chosen is None:
        raise LookupError(f"no subsidy formula in force on {params.effective_from}")
    return chosen


def calculate_subsidy(
    *,
    total_compute_cost: Decimal,
    work_minutes: int,
    overseas: bool,
    granted_this_year: Decimal,
    params: PolicyParams,
) -> SubsidyResult:
    """The subsidy for one work under ``params`` (the version in force on the submission date).

    ``granted_this_year`` is what the enterprise keeps of its awards of the submission year, the
    application being computed left out; the caller reads it (``applications.money.kept_total``):
    policy reads no application.
    """
    _check_inputs(total_compute_cost, work_minutes, granted_this_year)
    formula = formula_for(params)
    return formula(
        total_compute_cost=total_compute_cost,
        work_minutes=work_minutes,
        overseas=bool(overseas),
        granted_this_year=granted_this_year,
        params=params,
    )
