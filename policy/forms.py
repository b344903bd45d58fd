"""Forms of the policy pages: the public subsidy estimate and the holiday-schedule upload."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import yaml
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MAX_SCHEDULE_BYTES = 256 * 1024


class CalcForm(forms.Form):
    """补贴测算: what the applicant will type on the application form (rows 12, 16, 23, 14)."""

    cost = forms.DecimalField(
        label=_("总算力成本（元）"),
        min_value=Decimal("0.01"),
        max_digits=14,
        decimal_places=2,
        error_messages={
            "max_decimal_places": _("金额至多两位小数"),
            "invalid": _("请输入金额，如 50000 或 50000.00"),
        },
    )
    minutes = forms.IntegerField(
        label=_("作品制作时长（分钟）"),
        min_value=1,
        max_value=100000,
        error_messages={"invalid": _("请输入整数分钟数")},
    )
    overseas = forms.BooleanField(label=_("出海发行"), required=False)
    granted_this_year = forms.DecimalField(
        label=_("本年度已获补助（元）"),
        required=False,
        min_value=Decimal("0"),
        max_digits=14,
        decimal_places=2,
        help_text=_("同一企业同一自然年累计不超过年度上限；不填按 0 计"),
    )
    launch_date = forms.DateField(
        label=_("上线时间（可选）"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("填写后显示最晚申报日期"),
    )


class HolidayYearUploadForm(forms.Form):
    """Upload of one year's schedule in the docs/deadlines.md YAML format."""

    file = forms.FileField(label=_("节假日安排文件（YAML）"))

    schedule: Any = None

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_SCHEDULE_BYTES:
            raise ValidationError(_("文件过大（不超过 256 KB）"))
        try:
            text = upload.read().decode("utf-8-sig")
            self.schedule = yaml.safe_load(text)
        except UnicodeDecodeError:
            raise ValidationError(_("文件须为 UTF-8 编码的文本")) from None
        except yaml.YAMLError:
            raise ValidationError(_("不是有效的 YAML 文件")) from None
        if not isinstance(self.schedule, dict):
            raise ValidationError(_("文件内容应包含 year、source、holidays、workdays 四项"))
        return upload
