"""What is still wrong with an application: the checks of docs/form.md and the eligibility at submission.

:func:`field_problems` is pure: it takes the row values and a :class:`CheckContext` (the
facts from the database and the calendar) and returns Chinese messages keyed by field.
:func:`submission_problems` gathers that context for one application and adds the checks of
the whole application (enterprise, materials, consumption totals). The guided form shows a
step's share of these messages next to the fields; submission is refused with all of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from applications.forms import EDITABLE_FIELDS, OVERSEAS_DETAIL_FIELDS
from applications.models import Application, ConsumptionRow, MaterialKind
from applications.states import HOLDS_FILING_NUMBER, Status
from core.formats import date_text
from core.lib.money import display_money
from core.lib.workdays import UnknownYearError
from core.validators import normalize_email, normalize_phone, normalize_uscc
from enterprises.models import LicenceVersion, Provider, verified_licence
from policy.loader import PolicyNotInForceError, PolicyParams, params_at

Problems = dict[str, list[str]]

REQUIRED_MESSAGES: dict[str, Any] = {
    "enterprise_name": gettext_lazy("请填写企业名称"),
    "uscc": gettext_lazy("请填写统一社会信用代码"),
    "registered_address": gettext_lazy("请填写注册地址"),
    "operating_address": gettext_lazy("请填写实际经营地址"),
    "legal_rep_name": gettext_lazy("请填写法定代表人姓名"),
    "legal_rep_phone": gettext_lazy("请填写法定代表人联系电话"),
    "handler_name": gettext_lazy("请填写经办人姓名"),
    "handler_phone": gettext_lazy("请填写经办人联系电话"),
    "handler_email": gettext_lazy("请填写经办人电子邮箱"),
    "work_title": gettext_lazy("请填写短剧作品名称"),
    "filing_number": gettext_lazy("请填写作品备案证明编号"),
    "work_minutes": gettext_lazy("请填写作品制作时长（分钟）"),
    "platform_name": gettext_lazy("请填写上线平台名称"),
    "launch_date": gettext_lazy("请填写上线时间"),
    "launch_proof_number": gettext_lazy("请填写上线播放证明材料编号，没有则填写“无”"),
    "overseas_region": gettext_lazy("出海发行须填写发行地区 / 国家"),
    "overseas_agreement_number": gettext_lazy("出海发行须填写出海发行协议编号"),
    "overseas_platform": gettext_lazy("出海发行须填写海外上线平台名称"),
    "overseas_launch_date": gettext_lazy("出海发行须填写海外上线时间"),
    "provider_name": gettext_lazy("请填写算力提供方 / 代理方名称"),
    "compute_minutes": gettext_lazy("请填写算力消耗总时长（分钟）"),
    "total_compute_cost": gettext_lazy("请填写总算力成本金额"),
    "declaration_accepted": gettext_lazy("请阅读并勾选确认申报声明"),
    "signer_name": gettext_lazy("请填写声明签署人（法定代表人）姓名"),
}


@dataclass(frozen=True)
class CheckContext:
    """The facts a check needs beyond the row values."""

    registered_name: str
    today: dt.date
    params: PolicyParams | None = None
    params_error: str = ""
    filing_number_taken: bool = False
    deadline: dt.date | None = None
    deadline_error: str = ""


@dataclass
class DeadlineInfo:
    """The last day to apply for a launch date under the policy in force on ``today``."""

    deadline: dt.date | None = None
    error: str = ""
    days_left: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    provisional: bool = False
    reason: str = ""

    @property
    def passed(self) -> bool:
        return self.days_left is not None and self.days_left < 0


def _add(problems: Problems, name: str, message: str) -> None:
    problems.setdefault(name, []).append(message)


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def field_problems(
    values: Mapping[str, Any], ctx: CheckContext, only: Iterable[str] | None = None
) -> Problems:
    """Every docs/form.md row check on the values (required rows, cross-row rules); pure.

    With ``only``, just the messages of those fields (a step of the guided form).
    """
    problems: Problems = {}
    overseas = bool(values.get("overseas"))
    for name, message in REQUIRED_MESSAGES.items():
        if name in OVERSEAS_DETAIL_FIELDS and not overseas:
            continue
        if name == "declaration_accepted":
            if not values.get(name):
                _add(problems, name, str(message))
        elif is_empty(values.get(name)):
            _add(problems, name, str(message))

    name = str(values.get("enterprise_name") or "").strip()
    if name and name != ctx.registered_name:
        _add(
            problems,
            "enterprise_name",
            _("企业名称须与注册的企业名称“%(name)s”完全一致") % {"name": ctx.registered_name},
        )
    # Values were checked when typed; checked again here because rows 1–9 may come from the
    # enterprise record and the rules may have changed since.
    for field_name, normalize in (
        ("uscc", normalize_uscc),
        ("legal_rep_phone", normalize_phone),
        ("handler_phone", normalize_phone),
        ("handler_email", normalize_email),
    ):
        value = values.get(field_name)
        if not is_empty(value):
            try:
                normalize(str(value))
            except ValidationError as exc:
                for message in exc.messages:
                    _add(problems, field_name, message)

    if len(str(values.get("work_title") or "")) > 100:
        _add(problems, "work_title", _("作品名称不能超过 100 个字符"))
    if not is_empty(values.get("filing_number")) and ctx.filing_number_taken:
        _add(
            problems,
            "filing_number",
            _("备案编号“%(number)s”已有申请在审或已获补助，同一作品只能申报一次")
            % {"number": values.get("filing_number")},
        )
    work_minutes = values.get("work_minutes")
    if work_minutes is not None and (not isinstance(work_minutes, int) or work_minutes < 1):
        _add(problems, "work_minutes", _("应为不小于 1 的整数"))

    launch_date = values.get("launch_date")
    if isinstance(launch_date, dt.date):
        if launch_date > ctx.today:
            _add(
                problems,
                "launch_date",
                _("上线时间不能晚于今天（%(today)s）") % {"today": ctx.today.isoformat()},
            )
        elif ctx.deadline_error:
            _add(problems, "launch_date", ctx.deadline_error)
        elif ctx.deadline is not None and ctx.today > ctx.deadline:
            _add(
                problems,
                "launch_date",
                _("已超过申报期限：作品上线后 %(days)s 个工作日内申报，截止日为 %(deadline)s")
                % {
                    "days": ctx.params.apply_workdays_after_launch if ctx.params else 30,
                    "deadline": date_text(ctx.deadline),
                },
            )
    overseas_launch = values.get("overseas_launch_date")
    if overseas and isinstance(overseas_launch, dt.date) and overseas_launch > ctx.today:
        _add(problems, "overseas_launch_date", _("海外上线时间不能晚于今天"))

    compute_minutes = values.get("compute_minutes")
    if compute_minutes is not None and (not isinstance(compute_minutes, int) or compute_minutes < 1):
        _add(problems, "compute_minutes", _("应为不小于 1 的整数"))
    elif (
        compute_minutes is not None
        and work_minutes is not None
        and ctx.params is not None
        and ctx.params.compute_minutes_must_equal_work_minutes
        and compute_minutes != work_minutes
    ):
        _add(
            problems,
            "compute_minutes",
            _("算力消耗总时长（%(compute)s 分钟）须与作品制作时长（%(work)s 分钟）一致")
            % {"compute": compute_minutes, "work": work_minutes},
        )
    cost = values.get("total_compute_cost")
    if cost is not None:
        cost = Decimal(cost)
        if cost <= 0:
            _add(problems, "total_compute_cost", _("总算力成本应大于 0"))
        elif cost != cost.quantize(Decimal("0.01")):
            _add(problems, "total_compute_cost", _("金额至多保留两位小数"))
    if ctx.params_error:
        _add(problems, "__all__", ctx.params_error)

    if only is not None:
        keep = set(only)
        problems = {k: v for k, v in problems.items() if k in keep}
    return {k: problems[k] for k in _ordered(problems)}


def _ordered(problems: Mapping[str, Any]) -> list[str]:
    order = {name: index for index, name in enumerate(EDITABLE_FIELDS)}
    return sorted(problems, key=lambda k: order.get(k, len(order) + (0 if k == "__all__" else 1)))


# --- gathering the context ---------------------------------------------------------------------


def policy_for(day: dt.date) -> tuple[PolicyParams | None, str]:
    try:
        return params_at(day), ""
    except PolicyNotInForceError as exc:
        return None, str(exc)


def deadline_for(launch_date: dt.date | None, today: dt.date, params: PolicyParams | None) -> DeadlineInfo:
    """The last day to apply (docs/deadlines.md), named on the page.

    A deadline in a year without an official schedule is 暂定 (``provisional``, with the reason);
    once the year is loaded the enterprise keeps the later of the two dates (``settle``). Whether
    a submission is in time is exact whenever the days from launch to submission are official.
    """
    from policy.calendar import apply_due, workdays_left

    info = DeadlineInfo()
    if launch_date is None or params is None:
        return info
    try:
        settled = apply_due(launch_date, params)
        info.deadline = settled.date
        info.provisional = settled.provisional
        info.reason = settled.reason
        if launch_date <= today:
            info.days_left = workdays_left(info.deadline, today)
    except UnknownYearError as exc:
        info.error = _("无法计算申报截止日：%(error)s，请联系区文促中心") % {"error": str(exc)}
    return info


def with_filing_number(filing_number: str) -> QuerySet[Application]:
    """The applications that give the same work's filing number (row 11), whatever its case and spaces."""
    return Application.objects.filter(filing_number__iexact=filing_number.strip())


def filing_number_taken(filing_number: str, *, exclude_pk: int | None) -> bool:
    """Row 11: one work, one subsidy — is the number held by another live application?"""
    if not filing_number:
        return False
    qs = with_filing_number(filing_number).filter(status__in=[s.value for s in HOLDS_FILING_NUMBER])
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.exists()


def values_of(application: Application, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    values = {name: getattr(application, name) for name in EDITABLE_FIELDS}
    if overrides:
        values.update(overrides)
    return values


def context_for(
    application: Application,
    values: Mapping[str, Any],
    *,
    today: dt.date | None = None,
    check_deadline: bool = True,
) -> CheckContext:
    day = today or timezone.localdate()
    params, params_error = policy_for(day)
    launch = values.get("launch_date")
    deadline = (
        deadline_for(launch if isinstance(launch, dt.date) else None, day, params)
        if check_deadline
        else DeadlineInfo()
    )
    return CheckContext(
        registered_name=application.enterprise.name,
        today=day,
        params=params,
        params_error=params_error,
        filing_number_taken=filing_number_taken(
            str(values.get("filing_number") or ""), exclude_pk=application.pk
        ),
        deadline=deadline.deadline,
        deadline_error=deadline.error,
    )


@dataclass(frozen=True)
class ConsumptionTotals:
    files: int  # detail files in force read into usage lines (template or vendor exports)
    rows: int  # usage lines
    minutes: int  # card-minutes of the earlier GPU layout's rows
    amount: Decimal  # the subsidy base computed from the lines (row 23)
    units: tuple[tuple[str, str], ...] = ()  # totals per unit as measured, labelled and written out
    generated_per_minute: Decimal | None = None  # generated video minutes per minute of the work


def consumption_totals(application: Application) -> ConsumptionTotals:
    """The detail in force: its lines, the base computed from them and the totals per unit
    (docs/usage-formats.md); row 22 is not among them."""
    from applications.usage_lines import TOTAL_UNITS, plausibility, quantity_text, summary_totals
    from applications.usage_store import base_on, declared_lines, detail_materials

    materials = detail_materials(application)
    lines = declared_lines(application)
    minutes = ConsumptionRow.objects.filter(material_id__in=[m.pk for m in materials]).aggregate(
        minutes=Sum("minutes")
    )["minutes"]
    return ConsumptionTotals(
        files=len(materials),
        rows=len(lines),
        minutes=int(minutes or 0),
        amount=base_on(application, timezone.localdate()).total,
        units=tuple(
            (str(TOTAL_UNITS[key]), quantity_text(value)) for key, value in summary_totals(lines).items()
        ),
        generated_per_minute=plausibility(lines, application.work_minutes),
    )


def held_materials(application: Application) -> dict[str, LicenceVersion]:
    """Materials the platform already holds for this application, so they are not asked again
    (《国务院关于在线政务服务的若干规定》§10): the business licence verified by the center —
    for a draft the enterprise's latest verified version, afterwards the version submitted with."""
    if application.status == Status.DRAFT:
        licence = verified_licence(application.enterprise_id)
    else:
        licence = application.licence
    return {MaterialKind.BUSINESS_LICENSE.value: licence} if licence is not None else {}


def material_problems(application: Application) -> Problems:
    """Required materials present (docs/form.md table) and row 23 = the base computed from the detail.

    A material the platform holds (:func:`held_materials`) counts as provided.
    """
    problems: Problems = {}
    present = set(application.current_materials().values_list("kind", flat=True))
    present |= set(held_materials(application))
    from applications.works import platform_held_kinds

    present |= platform_held_kinds(application)
    missing = [MaterialKind(k).label for k in application.required_material_kinds() if k not in present]
    if missing:
        _add(
            problems,
            "materials",
            _("缺少以下材料：%(kinds)s") % {"kinds": "、".join(str(label) for label in missing)},
        )
    if MaterialKind.CONSUMPTION_DETAIL in present:
        from applications.usage_lines import describe_base
        from applications.usage_store import base_on, detail_materials

        if not detail_materials(application):
            _add(
                problems,
                "consumption_detail",
                _(
                    "请上传 CSV 或 XLSX 格式的算力消耗明细单（可下载模板填写），或厂商导出的账单与任务记录，以便计算总算力成本"
                ),
            )
        else:
            # Row 22 does not constrain the detail: the lines are measured in their own units
            # (docs/usage-formats.md). Row 23 is the subsidy base computed from them.
            base = base_on(application, timezone.localdate())
            if application.total_compute_cost is not None and base.total != application.total_compute_cost:
                _add(
                    problems,
                    "total_compute_cost",
                    _("第23行总算力成本 %(row)s 元应等于按明细计算的实付算力成本 %(sum)s 元：%(breakdown)s")
                    % {
                        "sum": display_money(base.total),
                        "row": display_money(application.total_compute_cost),
                        "breakdown": describe_base(base),
                    },
                )
    return problems


def enterprise_problems(application: Application) -> Problems:
    """Eligibility of the enterprise: verified and not blacklisted (五 4)."""
    enterprise = application.enterprise
    problems: Problems = {}
    if enterprise.blacklisted:
        reason = enterprise.blacklist_reason or _("未说明")
        _add(
            problems,
            "enterprise",
            _("企业已被列入黑名单，不能申报算力补助。原因：%(reason)s") % {"reason": reason},
        )
    elif enterprise.status != enterprise.Status.VERIFIED:
        _add(problems, "enterprise", _("企业信息尚未通过区文促中心核验，核验通过后方可申报"))
    return problems


def row_problems(
    application: Application, *, today: dt.date | None = None, check_deadline: bool = True
) -> Problems:
    """The row checks of the form (:func:`field_problems`) on the application as it stands.

    Submission runs them with today's context; resubmission after a supplement notice runs them
    with the submission day's and without the application deadline (met at submission; a
    supplement stops the clock, docs/states.md), so both refuse the same values with the same messages.
    """
    values = values_of(application)
    return field_problems(
        values, context_for(application, values, today=today, check_deadline=check_deadline)
    )


def approved_provider(name: str) -> Provider | None:
    """Row 21 links to a registered provider only when the name is an *approved* one's;
    otherwise the row stays free text for the reviewer to check."""
    text = (name or "").strip()
    if not text:
        return None
    return Provider.objects.filter(name=text, status=Provider.Status.APPROVED).first()


def submission_problems(application: Application, *, today: dt.date | None = None) -> Problems:
    """Everything that stops ``application`` from being submitted today; empty when it may be."""
    problems: Problems = {}
    if application.status != Status.DRAFT:
        _add(problems, "__all__", _("只有草稿可以提交"))
        return problems
    for source in (enterprise_problems(application),):
        for key, messages in source.items():
            problems.setdefault(key, []).extend(messages)
    for key, messages in row_problems(application, today=today).items():
        problems.setdefault(key, []).extend(messages)
    for key, messages in material_problems(application).items():
        problems.setdefault(key, []).extend(messages)
    order = [*EDITABLE_FIELDS, "enterprise", "materials", "consumption_detail", "__all__"]
    rank = {name: index for index, name in enumerate(order)}
    return {k: problems[k] for k in sorted(problems, key=lambda k: rank.get(k, len(rank)))}


def field_label(name: str) -> str:
    """The label of a problem's key, for the list of what is still wrong."""
    from applications.forms import ApplicationForm

    if name == "declaration_accepted":
        return _("26 申报声明")
    if name in ApplicationForm.base_fields:
        return str(ApplicationForm.base_fields[name].label or name)
    labels = {
        "enterprise": _("申报企业"),
        "materials": _("申报材料"),
        "consumption_detail": _("算力消耗明细单"),
        "__all__": _("申请"),
    }
    return str(labels.get(name, name))
