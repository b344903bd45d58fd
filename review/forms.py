"""Forms of the review pages. Values are checked here; the rules of the workflow are the actions'."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from applications.states import Status
from core.filetypes import DOCUMENT_TYPES, USAGE_TYPES
from core.uploads import CheckedUpload, check_upload
from review.models import SupplementNotice
from review.rows import ROW_BY_FIELD, display_value


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


def _checked(files: list[Any], allowed: frozenset[str] = DOCUMENT_TYPES) -> list[CheckedUpload]:
    checked, errors = [], []
    for f in files:
        try:
            checked.append(check_upload(f, allowed))
        except ValidationError as exc:
            errors.extend(exc.messages)
    if errors:
        raise ValidationError(errors)
    return checked


class OpinionForm(forms.Form):
    opinion = forms.CharField(
        label=_("意见"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class OnSiteCheckForm(forms.Form):
    date = forms.DateField(
        label=_("核查日期"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    people = forms.CharField(label=_("核查人员"), max_length=200)
    findings = forms.CharField(label=_("核查情况"), max_length=5000, widget=forms.Textarea(attrs={"rows": 4}))
    attachments = MultipleFileField(label=_("附件（PDF、OFD、JPEG、PNG）"), required=False)

    def clean_date(self) -> dt.date:
        day: dt.date = self.cleaned_data["date"]
        if day > timezone.localdate():
            raise ValidationError(_("核查日期不能晚于今天"))
        return day

    def clean_attachments(self) -> list[CheckedUpload]:
        return _checked(self.cleaned_data.get("attachments") or [])


class PaymentForm(forms.Form):
    date = forms.DateField(
        label=_("兑现日期"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    amount = forms.DecimalField(label=_("兑现金额（元）"), max_digits=12, decimal_places=2, min_value=0)
    bank_reference = forms.CharField(label=_("银行流水号"), max_length=64)


class LedgerExportForm(forms.Form):
    date_from = forms.DateField(label=_("起始日期"))
    date_to = forms.DateField(label=_("截止日期"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise ValidationError(_("起始日期不能晚于截止日期"))
        if start and end and (end - start).days > 3660:
            raise ValidationError(_("导出期间不超过十年"))
        return data


class WorkbenchFilterForm(forms.Form):
    q = forms.CharField(label=_("搜索"), required=False, max_length=100)
    enterprise = forms.CharField(label=_("企业"), required=False, max_length=100)
    work = forms.CharField(label=_("作品"), required=False, max_length=100)
    filing = forms.CharField(label=_("备案编号"), required=False, max_length=64)
    status = forms.ChoiceField(
        label=_("状态"), required=False, choices=[("", _("全部状态")), *Status.choices]
    )
    month = forms.RegexField(label=_("提交月份"), required=False, regex=r"^\d{4}-(0[1-9]|1[0-2])$")
    overdue = forms.BooleanField(label=_("仅看逾期"), required=False)


def month_choices(today: dt.date, count: int = 24) -> list[tuple[str, str]]:
    """The submission months a reviewer may filter by, newest first: ``("2026-11", "2026年11月")``.

    A select rather than ``<input type="month">``, which some browsers draw as ``--------- ----``.
    No month before the policy's first version (nothing could be submitted then)."""
    from policy.loader import load_parameters

    first = load_parameters().version_dates[0]
    year, month = today.year, today.month
    out = []
    for _i in range(count):
        if (year, month) < (first.year, first.month):
            break
        out.append((f"{year:04d}-{month:02d}", gettext("%(year)d年%(month)d月") % {"year": year, "month": month}))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out


class SupplementResponseForm(forms.Form):
    """The applicant's answer to one notice: exactly the items it names, nothing else."""

    def __init__(self, notice: SupplementNotice, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notice = notice
        self.items = list(notice.items.all())
        application = notice.application
        for item in self.items:
            key = self.key(item.item_code)
            self.fields[f"answer_{key}"] = forms.CharField(
                label=_("说明"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
            )
            if item.kind == "row":
                row = ROW_BY_FIELD[item.code]
                self.fields[f"value_{key}"] = forms.CharField(
                    label=row.title,
                    required=False,
                    max_length=200,
                    initial=display_value(application, item.code),
                )
            else:
                self.fields[f"files_{key}"] = MultipleFileField(label=item.label, required=False)
        self.fields["note"] = forms.CharField(
            label=_("补正总体说明"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
        )

    @staticmethod
    def key(item_code: str) -> str:
        return item_code.replace(":", "__")

    def rows_for_template(self) -> list[dict[str, Any]]:
        out = []
        for item in self.items:
            key = self.key(item.item_code)
            out.append(
                {
                    "item": item,
                    "answer": self[f"answer_{key}"],
                    "value": self[f"value_{key}"] if item.kind == "row" else None,
                    "files": self[f"files_{key}"] if item.kind == "material" else None,
                }
            )
        return out

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        application = self.notice.application
        answers: dict[str, str] = {}
        values: dict[str, str] = {}
        files: dict[str, list[CheckedUpload]] = {}
        for item in self.items:
            key = self.key(item.item_code)
            answers[item.item_code] = data.get(f"answer_{key}") or ""
            if item.kind == "row":
                raw = data.get(f"value_{key}")
                if raw is not None and raw.strip() != display_value(application, item.code):
                    values[item.code] = raw
            else:
                allowed = (
                    DOCUMENT_TYPES | USAGE_TYPES if item.code == "consumption_detail" else DOCUMENT_TYPES
                )
                try:
                    checked = _checked(data.get(f"files_{key}") or [], allowed)
                except ValidationError as exc:
                    self.add_error(f"files_{key}", exc)
                    continue
                if checked:
                    files[item.code] = checked
        data["answers"], data["row_values"], data["uploads"] = answers, values, files
        return data
