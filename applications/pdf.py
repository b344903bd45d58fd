"""The generated 申请表 (中国影都AI算力补助申请表) as a PDF, laid out like the source form.

The applicant prints it, has the legal representative sign it, stamps it and uploads the scan
back as ``application_form``. After approval the review app prints the same form with the
three approval boxes filled from the review record::

    render_application_pdf(app, with_opinions=True, opinions={
        "initial":   {"opinion": "材料齐全，同意", "signer": "赵敏", "date": date(2026, 3, 10)},
        "re_review": {"opinion": "同意", "signer": "孙伟", "date": "2026-03-12"},
        "final":     {"opinion": "同意补助", "signer": "周婷", "date": date(2026, 3, 13), "result": "通过"},
    })

WeasyPrint renders the HTML template with Noto Sans CJK SC (Debian ``fonts-noto-cjk``); the fonts
are embedded (subset) so the PDF prints the same anywhere. The PDF is signed by the center (PAdES
with a timestamp, ``core.signing``), so any reader shows it unchanged since it was issued.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from applications.models import Application
from applications.signing import signature_text
from core.lib.money import round_half_up
from core.validators import display_phone
from policy.loader import PolicyNotInForceError, params_at

OPINION_BOXES = (
    ("initial", _l("初审意见"), _l("区文促中心部门初审意见："), _l("初审负责人签字："), _l("由审核部门填写")),
    (
        "re_review",
        _l("复审意见"),
        _l("区文促中心部门主管领导复审意见："),
        _l("复审负责人签字："),
        _l("由审核部门主管领导填写"),
    ),
    ("final", _l("最终审批结果"), _l("最终审批结果："), _l("审批负责人签字："), _l("由审核单位负责人填写")),
)
CHECKED, UNCHECKED = "☑", "□"


@dataclass(frozen=True)
class FormRow:
    category: str
    span: int  # rows the category cell spans (0: covered by the cell above)
    number: int
    label: str
    value: str
    note: str


def _date(value: dt.date | None) -> str:
    if not value:
        return ""
    return _("%(year)d年%(month)d月%(day)d日") % {"year": value.year, "month": value.month, "day": value.day}


def _money(value: Decimal | None) -> str:
    return f"{round_half_up(value):,.2f}" if value is not None else ""


def _phone(value: str) -> str:
    return display_phone(value) if value else ""


def _percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


def _rates(application: Application) -> tuple[str, str]:
    """Row 24's two rates, from the policy version of the application (or today's for a draft)."""
    day = application.received_date or timezone.localdate()
    try:
        params = params_at(day)
    except PolicyNotInForceError:
        return "", ""
    return _percent(params.domestic_rate), _percent(params.overseas_rate)


def form_rows(application: Application) -> list[FormRow]:
    """Rows 1–25 with the source form's labels and notes."""
    a = application
    domestic_rate, overseas_rate = _rates(a)
    yes_no = "{}{}　{}{}".format(
        CHECKED if a.overseas else UNCHECKED, _("是"), UNCHECKED if a.overseas else CHECKED, _("否")
    )
    support = "{}{}\n{}{}".format(
        UNCHECKED if a.overseas else CHECKED,
        _("常规算力服务支持（%(rate)s）") % {"rate": domestic_rate},
        CHECKED if a.overseas else UNCHECKED,
        _("出海算力服务支持（%(rate)s）") % {"rate": overseas_rate},
    )
    overseas = a.overseas
    company = [
        (_("企业名称（全称）"), a.enterprise_name, _("需与营业执照一致，加盖企业公章")),
        (_("统一社会信用代码"), a.uscc, _("填写完整代码，复印件附后")),
        (_("注册地址"), a.registered_address, _("精确至门牌号")),
        (_("实际经营地址"), a.operating_address, _("如与注册地址不一致需单独填写")),
        (_("法定代表人姓名"), a.legal_rep_name, _("填写真实姓名")),
        (_("法定代表人联系电话"), _phone(a.legal_rep_phone), _("手机号码或固定电话")),
        (_("经办人姓名"), a.handler_name, _("负责申报事宜的联系人")),
        (_("经办人联系电话"), _phone(a.handler_phone), _("确保通讯畅通")),
        (_("经办人电子邮箱"), a.handler_email, _("用于接收通知及报送电子版材料")),
    ]
    work = [
        (_("短剧作品名称"), a.work_title, _("填写完整且规范的作品名称")),
        (_("作品备案证明编号"), a.filing_number, _("填写相关主管部门出具的备案编号")),
        (_("作品制作时长（分钟）"), str(a.work_minutes or ""), _("填写实际制作总时长，精确至整数")),
        (_("上线平台名称"), a.platform_name, _("填写作品上线的具体平台（如抖音、快手等）")),
        (_("上线时间"), _date(a.launch_date), _("格式：年  月  日")),
        (_("上线播放证明材料编号（如有）"), a.launch_proof_number, _("无则填写 “无”")),
        (_("是否出海发行"), yes_no, ""),
        (
            _("出海发行相关信息（选填）- 发行地区 / 国家"),
            a.overseas_region if overseas else "",
            _("选填，仅 “是否出海发行” 勾选 “是” 时填写"),
        ),
        (
            _("出海发行相关信息（选填）- 出海发行协议编号"),
            a.overseas_agreement_number if overseas else "",
            _("选填，仅 “是否出海发行” 勾选 “是” 时填写"),
        ),
        (
            _("出海发行相关信息（选填）- 海外上线平台名称"),
            a.overseas_platform if overseas else "",
            _("选填，仅 “是否出海发行” 勾选 “是” 时填写"),
        ),
        (
            _("出海发行相关信息（选填）- 海外上线时间"),
            _date(a.overseas_launch_date) if overseas else "",
            _("选填，仅 “是否出海发行” 勾选 “是” 时填写"),
        ),
    ]
    compute = [
        (_("算力提供方 / 代理方名称"), a.provider_name, _("填写合作的算力平台或代理机构全称")),
        (_("算力消耗总时长（分钟）"), str(a.compute_minutes or ""), _("需与制作时长一致，附消耗明细单")),
        (_("总算力成本金额（元）"), _money(a.total_compute_cost), _("填写实际发生的总费用，附结算凭证")),
        (_("申请算力服务支持类型"), support, ""),
        (_("申请算力服务支持金额（元）"), _money(a.requested_amount), _("按对应比例及限制标准计算填写")),
    ]
    rows: list[FormRow] = []
    number = 1
    for category, items in (
        (_("企业基本信息"), company),
        (_("短剧项目信息"), work),
        (_("算力使用信息"), compute),
    ):
        for index, (label, value, note) in enumerate(items):
            rows.append(FormRow(category, len(items) if index == 0 else 0, number, label, value or "", note))
            number += 1
    return rows


def _opinion(data: dict[str, Any] | None) -> dict[str, str]:
    data = data or {}
    when = data.get("date")
    if isinstance(when, str) and when:
        with contextlib.suppress(ValueError):
            when = dt.date.fromisoformat(when[:10])
    return {
        "opinion": str(data.get("opinion") or ""),
        "signer": str(data.get("signer") or ""),
        "date": _date(when) if isinstance(when, dt.date) else str(when or ""),
        "result": str(data.get("result") or ""),
    }


def render_application_html(
    application: Application, *, with_opinions: bool = False, opinions: dict[str, dict[str, Any]] | None = None
) -> str:
    boxes = []
    for key, title, prompt, signer_label, note in OPINION_BOXES:
        boxes.append(
            {
                "key": key,
                "title": title,
                "prompt": prompt,
                "signer_label": signer_label,
                "note": note,
                "filled": with_opinions,
                **(_opinion((opinions or {}).get(key)) if with_opinions else _opinion(None)),
            }
        )
    return render_to_string(
        "applications/pdf/application_form.html",
        {
            "application": application,
            "rows": form_rows(application),
            "boxes": boxes,
            "generated_at": timezone.localtime(),
            "signed_by": signature_text(application),
            "declaration": _(
                "本企业郑重声明：所提交的全部申报材料真实、完整、合法，算力使用符合本细则要求，无转借、挪用等违规行为。"
                "如存在虚假申报、违规使用等情况，自愿承担相应法律责任，退还已获得的算力服务支持资金，并接受相关处罚。"
            ),
        },
    )


def render_application_pdf(
    application: Application, *, with_opinions: bool = False, opinions: dict[str, dict[str, Any]] | None = None
) -> bytes:
    """The 申请表 of ``application`` as PDF bytes signed by the center (``core.signing``);
    the approval boxes empty unless ``with_opinions``."""
    from core.signing import render_signed_pdf

    html = render_application_html(application, with_opinions=with_opinions, opinions=opinions)
    reason = _("区文促中心审批表") if with_opinions else _("区文促中心生成的申请表")
    return render_signed_pdf(html, reason=reason)


def pdf_filename(application: Application) -> str:
    if application.reference:
        return _("申请表-%(reference)s.pdf") % {"reference": application.reference}
    return _("申请表-草稿%(pk)s.pdf") % {"pk": application.pk}
