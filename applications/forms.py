"""Forms of the application flow: the 26 rows (one form, cut into the guided steps), materials.

The same :class:`ApplicationForm` validates the web steps and the API's PATCH body, so a
value gets the same Chinese message wherever it is typed. The form checks each value's
*format*; whether a row is required, and the rules that need the database or several rows
(row 1 = registered name, row 11 unused, row 22 = row 12, the deadline), are in
:mod:`applications.checks`, which both the steps and the submission use.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from applications.models import MaterialKind
from core.validators import national_initial, normalize_email, normalize_phone, normalize_uscc

# Fields the applicant may set, in the order of the source form's rows. Everything else
# (status, enterprise, amounts, reference, dates of the workflow) is set by actions only.
EDITABLE_FIELDS: tuple[str, ...] = (
    "enterprise_name",
    "uscc",
    "registered_address",
    "operating_address",
    "legal_rep_name",
    "legal_rep_phone",
    "handler_name",
    "handler_phone",
    "handler_email",
    "work_title",
    "filing_number",
    "work_minutes",
    "platform_name",
    "launch_date",
    "launch_proof_number",
    "overseas",
    "overseas_region",
    "overseas_agreement_number",
    "overseas_platform",
    "overseas_launch_date",
    "provider_name",
    "compute_minutes",
    "total_compute_cost",
    "declaration_accepted",
    "signer_name",
)
OVERSEAS_DETAIL_FIELDS = (
    "overseas_region",
    "overseas_agreement_number",
    "overseas_platform",
    "overseas_launch_date",
)
# Row number of each field on the source form (for messages and the PDF).
ROW_OF: dict[str, int] = {name: index for index, name in enumerate(EDITABLE_FIELDS[:23], start=1)} | {
    "declaration_accepted": 26,
    "signer_name": 26,
}
PLATFORM_SUGGESTIONS = (
    "抖音",
    "快手",
    "微信视频号",
    "红果短剧",
    "腾讯视频",
    "爱奇艺",
    "优酷",
    "芒果TV",
    "哔哩哔哩",
)


@dataclass(frozen=True)
class Step:
    slug: str
    title: str
    fields: tuple[str, ...]


STEPS: tuple[Step, ...] = (
    Step("enterprise", str(_("企业信息")), EDITABLE_FIELDS[0:9]),
    Step("work", str(_("作品信息")), EDITABLE_FIELDS[9:15]),
    Step("overseas", str(_("出海发行")), EDITABLE_FIELDS[15:20]),
    Step("compute", str(_("算力使用")), EDITABLE_FIELDS[20:23]),
    Step("materials", str(_("材料上传")), ()),
    Step("confirm", str(_("核对与声明")), ("declaration_accepted", "signer_name")),
)
STEP_BY_SLUG = {step.slug: step for step in STEPS}


def step_of_field(name: str) -> Step | None:
    for step in STEPS:
        if name in step.fields:
            return step
    return None


class YesNoField(forms.Field):
    """Row 16 (□是 □否): radio buttons on the page, ``true``/``false`` (or 是/否) in the API."""

    widget = forms.RadioSelect(choices=[("1", _("是")), ("0", _("否"))])
    TRUE = frozenset({"1", "true", "yes", "y", "on", "是"})  # i18n: data (accepted input)
    FALSE = frozenset({"0", "false", "no", "n", "off", "否"})  # i18n: data (accepted input)

    def to_python(self, value: Any) -> bool | None:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower() if value is not None else ""
        if text in self.TRUE:
            return True
        if text in self.FALSE:
            return False
        if text == "":
            return None
        raise ValidationError(_("请选择“是”或“否”"), code="invalid")

    def prepare_value(self, value: Any) -> Any:
        if value is True:
            return "1"
        if value is False:
            return "0"
        return value


def _not_future(value: dt.date | None, label: str) -> None:
    if value is not None and value > timezone.localdate():
        raise ValidationError(
            _("%(label)s不能晚于今天（%(today)s）")
            % {"label": label, "today": timezone.localdate().isoformat()},
            code="future",
        )


def _text(label: Any, max_length: int, **kwargs: Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=max_length,
        required=False,
        error_messages={"max_length": _("不能超过 %(limit_value)d 个字符")},
        **kwargs,
    )


DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATE_ERRORS = {"invalid": _("请填写有效的日期，格式：年-月-日（如 2026-03-01）")}


class ApplicationForm(forms.Form):
    """Rows 1–23 and 26. Built with ``fields=`` to keep only one step's rows or an API body's keys.

    All fields are optional here: a draft may be saved half-filled; :mod:`applications.checks`
    says what is still missing.
    """

    # Rows 1–9
    enterprise_name = _text(_("1 企业名称（全称）"), 100, help_text=_("需与营业执照一致"))
    uscc = _text(_("2 统一社会信用代码"), 30, help_text=_("18 位"))
    registered_address = _text(_("3 注册地址"), 200, help_text=_("精确至门牌号"))
    operating_address = _text(_("4 实际经营地址"), 200, help_text=_("不填则与注册地址相同"))
    legal_rep_name = _text(_("5 法定代表人姓名"), 50)
    legal_rep_phone = _text(_("6 法定代表人联系电话"), 30, help_text=_("手机号码或固定电话（固话带区号）"))
    handler_name = _text(_("7 经办人姓名"), 50, help_text=_("负责申报事宜的联系人"))
    handler_phone = _text(_("8 经办人联系电话"), 30)
    handler_email = _text(_("9 经办人电子邮箱"), 254, help_text=_("用于接收通知"))
    # Rows 10–15
    work_title = _text(_("10 短剧作品名称"), 100, help_text=_("填写完整且规范的作品名称"))
    filing_number = _text(
        _("11 作品备案证明编号"), 64, help_text=_("相关主管部门出具的备案编号；同一作品只能申报一次")
    )
    work_minutes = forms.IntegerField(
        label=_("12 作品制作时长（分钟）"),
        required=False,
        min_value=1,
        max_value=100000,
        help_text=_("成片时长，整数分钟"),
        error_messages={
            "invalid": _("请填写整数分钟"),
            "min_value": _("应为不小于 1 的整数"),
            "max_value": _("不能超过 %(limit_value)s 分钟"),
        },
    )
    platform_name = _text(_("13 上线平台名称"), 100, help_text=_("如抖音、快手、微信视频号、红果短剧等"))
    launch_date = forms.DateField(
        label=_("14 上线时间"), required=False, widget=DATE_INPUT, error_messages=DATE_ERRORS
    )
    launch_proof_number = _text(_("15 上线播放证明材料编号"), 100, help_text=_("无则填写“无”"))
    # Rows 16–20
    overseas = YesNoField(label=_("16 是否出海发行"), required=False)
    overseas_region = _text(_("17 出海发行地区 / 国家"), 100)
    overseas_agreement_number = _text(_("18 出海发行协议编号"), 100)
    overseas_platform = _text(_("19 海外上线平台名称"), 100)
    overseas_launch_date = forms.DateField(
        label=_("20 海外上线时间"), required=False, widget=DATE_INPUT, error_messages=DATE_ERRORS
    )
    # Rows 21–23 (24 and 25 are derived and computed, never typed)
    provider_name = _text(_("21 算力提供方 / 代理方名称"), 100, help_text=_("合作的算力平台或代理机构全称"))
    compute_minutes = forms.IntegerField(
        label=_("22 算力消耗总时长（分钟）"),
        required=False,
        min_value=1,
        max_value=100000,
        help_text=_("需与制作时长一致，附消耗明细单"),
        error_messages={
            "invalid": _("请填写整数分钟"),
            "min_value": _("应为不小于 1 的整数"),
            "max_value": _("不能超过 %(limit_value)s 分钟"),
        },
    )
    total_compute_cost = forms.DecimalField(
        label=_("23 总算力成本金额（元）"),
        required=False,
        max_digits=14,
        decimal_places=2,
        help_text=_("实际发生的总费用，附结算凭证"),
        error_messages={
            "invalid": _("请填写金额，如 50000.00"),
            "max_decimal_places": _("金额至多保留两位小数"),
            "max_digits": _("金额过大"),
            "max_whole_digits": _("金额过大"),
        },
    )
    # Row 26
    declaration_accepted = forms.BooleanField(
        label=_(
            "本企业郑重声明：所提交的全部申报材料真实、完整、合法，算力使用符合本细则要求，无转借、挪用等违规行为。如存在虚假申报、违规使用等情况，自愿承担相应法律责任，退还已获得的算力服务支持资金，并接受相关处罚。"
        ),
        required=False,
    )
    signer_name = _text(_("声明签署人（法定代表人）姓名"), 50)

    def __init__(self, *args: Any, fields: Iterable[str] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        national_initial(self.initial, ("legal_rep_phone", "handler_phone"))
        if fields is not None:
            keep = set(fields)
            for name in list(self.fields):
                if name not in keep:
                    del self.fields[name]
        for name in ("launch_date", "overseas_launch_date"):
            if name in self.fields:
                self.fields[name].widget.attrs["max"] = timezone.localdate().isoformat()
        if "platform_name" in self.fields:
            self.fields["platform_name"].widget.attrs["list"] = "platform-suggestions"
        if "provider_name" in self.fields:
            self.fields["provider_name"].widget.attrs["list"] = "provider-suggestions"
        for name in ("work_minutes", "compute_minutes"):
            if name in self.fields:
                # A text box: a number box would silently drop what it cannot parse ("六十"),
                # and the applicant would not see what was wrong.
                self.fields[name].widget = forms.TextInput(attrs={"inputmode": "numeric"})
        if "total_compute_cost" in self.fields:
            self.fields["total_compute_cost"].widget.attrs.update({"inputmode": "decimal", "step": "0.01"})

    # Format checks of single values (docs/form.md); empty values pass, checks.py reports them missing.

    def clean_uscc(self) -> str:
        value = self.cleaned_data.get("uscc", "")
        return normalize_uscc(value) if value else ""

    def clean_legal_rep_phone(self) -> str:
        value = self.cleaned_data.get("legal_rep_phone", "")
        return normalize_phone(value) if value else ""

    def clean_handler_phone(self) -> str:
        value = self.cleaned_data.get("handler_phone", "")
        return normalize_phone(value) if value else ""

    def clean_handler_email(self) -> str:
        value = self.cleaned_data.get("handler_email", "")
        return normalize_email(value) if value else ""

    def clean_launch_date(self) -> dt.date | None:
        value = self.cleaned_data.get("launch_date")
        _not_future(value, str(_("上线时间")))
        return value

    def clean_overseas_launch_date(self) -> dt.date | None:
        value = self.cleaned_data.get("overseas_launch_date")
        _not_future(value, str(_("海外上线时间")))
        return value

    def clean_total_compute_cost(self) -> Decimal | None:
        value = self.cleaned_data.get("total_compute_cost")
        if value is not None and value <= 0:
            raise ValidationError(_("总算力成本应大于 0"), code="min_value")
        return value

    def clean_filing_number(self) -> str:
        return (self.cleaned_data.get("filing_number") or "").strip().upper()

    def clean_operating_address(self) -> str:
        # Row 4 defaults to row 3 when the applicant leaves it empty.
        value: str = self.cleaned_data.get("operating_address", "")
        if not value and "registered_address" in self.fields:
            return str(self.data.get("registered_address", "") or "")
        return value

    def valid_changes(self) -> dict[str, Any]:
        """The values that passed their check, to be saved even while other fields have errors
        (nothing the applicant typed correctly is lost)."""
        if not hasattr(self, "cleaned_data"):
            self.full_clean()
        return {name: value for name, value in self.cleaned_data.items() if name not in self.errors}


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field; each is then checked by ``core.uploads.check_upload``
    (empty files included, so that the message names the file)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("allow_empty_file", True)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)]


class MaterialUploadForm(forms.Form):
    """One or more files of one kind (每类可多文件)."""

    kind = forms.ChoiceField(label=_("材料类别"), choices=MaterialKind.choices)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    file = MultipleFileField(
        label=_("文件"),
        help_text=_("PDF、OFD、JPEG、PNG，每个不超过 20 MB；算力消耗明细单另可上传 CSV 或 XLSX"),
        error_messages={"required": _("请选择要上传的文件")},
    )
