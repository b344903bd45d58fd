"""The usage line (用量明细行, docs/usage-formats.md): one vendor-neutral unit of bought compute,
and the subsidy base computed from a list of them.

Every declaration, vendor export and provider report is read into :class:`UsageLine` values:
GPU time metered by the agent, a model service billed per token, per generated second or in
resource-pack units, a cloud bill line, a pack purchase, a subscription. Pure code: no ORM.

The subsidy base (row 23) is the cash actually paid for compute (:func:`subsidy_base`):

* a line's cash is what was paid (``paid``); where a format has no paid column, what was
  payable less any voucher;
* coupons (优惠券) and vouchers (算力券 / 模型券 of any programme) are not cash and stay out,
  while the dated parameters ``usage.base_excludes_coupons`` / ``usage.base_excludes_vouchers``
  hold;
* a pack purchase is not counted when bought; the units drawn from packs are valued at the
  packs' paid price per unit (Σ paid ÷ Σ units of the vendor's packs);
* a reseller's price (its markup included) is what the applicant paid, so it counts.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.lib.money import display_money, round_half_up
from core.lib.usage_vocabulary import (
    PACK_PURCHASE,
    UNITS,
)

# The vocabulary above is shared with the providers' reports (monitoring) and re-exported here.

ZERO = Decimal("0.00")


MONEY_FIELDS = ("list_amount", "discount", "coupon", "voucher", "payable", "paid")


@dataclass(frozen=True)
class UsageLine:
    """One line of bought compute, whatever the vendor and unit."""

    kind: str
    vendor: str
    quantity: Decimal
    unit: str
    source: str
    category: str = "other"
    reseller_name: str = ""
    reseller_uscc: str = ""
    account: str = ""
    sku: str = ""  # model or SKU (计费项)
    task_id: str = ""
    period_start: dt.datetime | None = None
    period_end: dt.datetime | None = None
    bill_period: str = ""  # YYYY-MM
    day: dt.date | None = None
    output_seconds: Decimal | None = None
    resolution: str = ""
    unit_price: Decimal | None = None
    list_amount: Decimal | None = None
    discount: Decimal | None = None
    coupon: Decimal | None = None
    voucher: Decimal | None = None
    pack_units: Decimal | None = None  # units drawn from a resource pack
    pack_id: str = ""
    payable: Decimal | None = None
    paid: Decimal | None = None
    invoice_no: str = ""
    settlement_ref: str = ""
    bill_line_id: str = ""
    raw_sha256: str = ""
    status: str = "succeeded"  # failed / cancelled tasks carry no cost
    file_name: str = ""
    line_number: int = 0

    @property
    def priced(self) -> bool:
        """Whether the line carries money (a bill line) rather than only a quantity (a task record)."""
        return any(getattr(self, name) is not None for name in MONEY_FIELDS)

    @property
    def failed(self) -> bool:
        return self.status != "succeeded"

    def cash(self) -> Decimal:
        """Cash paid for this line, without pack valuation (see module docstring)."""
        if self.failed or self.kind == PACK_PURCHASE:
            return ZERO
        if self.paid is not None:
            return self.paid
        if self.payable is not None:
            return max(self.payable - (self.voucher or ZERO), ZERO)
        return ZERO

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, (Decimal, dt.date, dt.datetime)):
                value = value.isoformat() if not isinstance(value, Decimal) else str(value)
            out[name] = value
        return out


def in_file(line: UsageLine, file_name: str) -> UsageLine:
    """The same line naming the file it was read from. A copy of the frozen value's fields, not
    ``dataclasses.replace``, which re-runs ``__init__`` and was half the reading time of a large bill."""
    copy = object.__new__(UsageLine)
    copy.__dict__.update(line.__dict__, file_name=file_name)
    return copy


# --- the subsidy base ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BaseRules:
    """The dated parameters of the base (policy/parameters/usage.*.yaml)."""

    excludes_coupons: bool = True
    excludes_vouchers: bool = True

    @classmethod
    def from_params(cls, params: Any) -> BaseRules:
        extra: Mapping[str, Any] = getattr(params, "extra", {}) or {}
        return cls(
            excludes_coupons=bool(extra.get("usage.base_excludes_coupons", True)),
            excludes_vouchers=bool(extra.get("usage.base_excludes_vouchers", True)),
        )


@dataclass(frozen=True)
class PackPrice:
    vendor: str
    units: Decimal
    paid: Decimal

    @property
    def per_unit(self) -> Decimal | None:
        return self.paid / self.units if self.units > 0 else None


@dataclass
class Base:
    """Row 23 and its breakdown."""

    cash: Decimal = ZERO
    packs: Decimal = ZERO  # pack units drawn, valued at the paid price per unit
    coupons: Decimal = ZERO  # excluded unless the rule says otherwise
    vouchers: Decimal = ZERO
    list_amount: Decimal = ZERO
    discount: Decimal = ZERO
    payable: Decimal = ZERO
    paid: Decimal = ZERO
    pack_prices: dict[str, PackPrice] = field(default_factory=dict)
    pack_units_drawn: dict[str, Decimal] = field(default_factory=dict)
    pack_units_bought: dict[str, Decimal] = field(default_factory=dict)
    unpriced_pack_units: dict[str, Decimal] = field(default_factory=dict)
    included_coupons: Decimal = ZERO
    included_vouchers: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return round_half_up(self.cash + self.packs + self.included_coupons + self.included_vouchers)

    def as_dict(self) -> dict[str, Any]:
        return {
            "cash": str(round_half_up(self.cash)),
            "packs": str(round_half_up(self.packs)),
            "coupons": str(round_half_up(self.coupons)),
            "vouchers": str(round_half_up(self.vouchers)),
            "base": str(self.total),
            "unpriced_pack_units": {
                k: format(v.normalize(), "f") for k, v in sorted(self.unpriced_pack_units.items())
            },
        }


def pack_prices(lines: Iterable[UsageLine]) -> dict[str, PackPrice]:
    """Per vendor, the packs' paid price per unit. A pack listed twice (its id in two files) counts once,
    with its paid amount where one of the listings has it."""
    packs: dict[tuple[str, str], UsageLine] = {}
    anonymous: list[UsageLine] = []
    for line in lines:
        if line.kind != PACK_PURCHASE:
            continue
        if not line.pack_id:
            anonymous.append(line)
            continue
        key = (line.vendor, line.pack_id)
        known = packs.get(key)
        if known is None or (known.paid is None and line.paid is not None):
            packs[key] = line if known is None or line.quantity else replace(line, quantity=known.quantity)
    totals: dict[str, tuple[Decimal, Decimal]] = {}
    for line in [*packs.values(), *anonymous]:
        if line.paid is None:
            continue
        units, paid = totals.get(line.vendor, (Decimal(0), ZERO))
        totals[line.vendor] = (units + line.quantity, paid + line.paid)
    return {vendor: PackPrice(vendor, units, paid) for vendor, (units, paid) in totals.items()}


def pack_sizes(lines: Iterable[UsageLine]) -> dict[str, Decimal]:
    """Per vendor, the units of the packs bought (each pack id once)."""
    seen: dict[tuple[str, str], Decimal] = {}
    total: dict[str, Decimal] = defaultdict(Decimal)
    for index, line in enumerate(lines):
        if line.kind != PACK_PURCHASE:
            continue
        key = (line.vendor, line.pack_id or f"#{index}")
        seen[key] = max(seen.get(key, Decimal(0)), line.quantity)
    for (vendor, _pack), units in seen.items():
        total[vendor] += units
    return dict(total)


def subsidy_base(lines: Iterable[UsageLine], rules: BaseRules | None = None) -> Base:
    """Row 23 computed from the lines (module docstring); pure."""
    rules = rules or BaseRules()
    items = list(lines)
    base = Base(pack_prices=pack_prices(items), pack_units_bought=pack_sizes(items))
    drawn: dict[str, Decimal] = defaultdict(Decimal)
    for line in items:
        if line.failed:
            continue
        if line.kind != PACK_PURCHASE:
            base.list_amount += line.list_amount or ZERO
            base.discount += line.discount or ZERO
            base.payable += line.payable or ZERO
            base.paid += line.paid or ZERO
        base.coupons += line.coupon or ZERO
        base.vouchers += line.voucher or ZERO
        base.cash += line.cash()
        if line.pack_units and line.kind != PACK_PURCHASE:
            drawn[line.vendor] += line.pack_units
    for vendor, units in drawn.items():
        price = base.pack_prices.get(vendor)
        per_unit = price.per_unit if price is not None else None
        if per_unit is None:
            base.unpriced_pack_units[vendor] = units
        else:
            base.packs += units * per_unit
    base.pack_units_drawn = dict(drawn)
    if not rules.excludes_coupons:
        base.included_coupons = base.coupons
    if not rules.excludes_vouchers:
        base.included_vouchers = base.vouchers
    return base


# --- quantities per unit ---------------------------------------------------------------------------

TOTAL_UNITS: dict[str, Any] = {
    "gpu_hours": gettext_lazy("GPU 卡时"),
    "tokens": gettext_lazy("token"),
    "generated_minutes": gettext_lazy("生成视频分钟"),
    "images": gettext_lazy("图像（张）"),
    "characters": gettext_lazy("字符"),
    "pack_units": gettext_lazy("资源包单位"),
    "requests": gettext_lazy("请求（次）"),
}


def quantities(lines: Iterable[UsageLine]) -> dict[str, Decimal]:
    """Σ quantity per unit as measured. Where a vendor's bill lines and its task records give the same
    unit, the bill counts and the task records are its evidence (not added twice)."""
    items = [line for line in lines if not line.failed and line.kind != PACK_PURCHASE]
    billed = {(line.vendor, line.unit) for line in items if line.priced}
    by_unit: dict[str, Decimal] = defaultdict(Decimal)
    for line in items:
        if not line.priced and (line.vendor, line.unit) in billed:
            continue
        by_unit[line.unit] += line.quantity
    return dict(by_unit)


def summary_totals(lines: Iterable[UsageLine]) -> dict[str, Decimal]:
    """The totals shown to reviewers: GPU hours, tokens, generated minutes, images, characters."""
    items = list(lines)
    units = quantities(items)
    tokens = (
        units.get("token", Decimal(0))
        + units.get("input_token", Decimal(0))
        + units.get("output_token", Decimal(0))
    )
    out = {
        "gpu_hours": units.get("gpu_second", Decimal(0)) / 3600 + units.get("instance_hour", Decimal(0)),
        "tokens": tokens,
        "generated_minutes": generated_seconds(items) / 60,
        "images": units.get("image", Decimal(0)),
        "characters": units.get("character", Decimal(0)),
        "pack_units": units.get("pack_unit", Decimal(0)),
        "requests": units.get("request", Decimal(0)),
    }
    return {key: round_half_up(value, Decimal("0.01")) for key, value in out.items() if value}


def generated_seconds(lines: Iterable[UsageLine]) -> Decimal:
    """Seconds of video generated: the output durations of video lines (a line billed per generated
    second is its own duration); a task's duration counts once even when its bill line repeats it."""
    seen: set[tuple[str, str]] = set()
    total = Decimal(0)
    items = [line for line in lines if not line.failed and line.category == "video"]
    billed_seconds = {(line.vendor) for line in items if line.priced and line.unit == "video_second"}
    for line in items:
        seconds = line.output_seconds
        if seconds is None and line.unit == "video_second":
            if not line.priced and line.vendor in billed_seconds:
                continue
            seconds = line.quantity
        if seconds is None:
            continue
        if line.task_id:
            key = (line.vendor, line.task_id)
            if key in seen:
                continue
            seen.add(key)
        total += seconds
    return total


def plausibility(lines: Iterable[UsageLine], work_minutes: int | None) -> Decimal | None:
    """Generated minutes per minute of the work (a figure for reviewers, not a rule)."""
    if not work_minutes:
        return None
    return round_half_up(generated_seconds(lines) / 60 / Decimal(work_minutes), Decimal("0.01"))


def quantity_text(value: Decimal) -> str:
    """A quantity for people: thousands separators, decimals only where there are any (24,620,000; 17.5)."""
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return f"{value.quantize(Decimal('0.01')).normalize():,f}"


def unit_label(unit: str) -> str:
    return str(UNITS.get(unit, unit))


def describe_base(base: Base) -> str:
    """One Chinese sentence of the breakdown, for the review page and the refusal of a wrong row 23."""
    return _(
        "现金实付 %(cash)s 元＋资源包抵扣折算 %(packs)s 元＝%(base)s 元（不计优惠券 %(coupons)s 元、算力券 %(vouchers)s 元）"
    ) % {
        "cash": display_money(base.cash),
        "packs": display_money(base.packs),
        "base": display_money(base.total),
        "coupons": display_money(base.coupons),
        "vouchers": display_money(base.vouchers),
    }
