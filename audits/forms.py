"""Forms of the audit pages. They only validate input; the actions decide and write."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from audits import quarters
from audits.models import UPHELD_STATUSES, Finding
from enterprises.models import Enterprise

MONEY = {"max_digits": 12, "decimal_places": 2, "min_value": Decimal("0.00")}


def quarter_choices(today: dt.date) -> list[tuple[str, str]]:
    """The quarters a spot check may be opened for: each ended quarter since the policy began,
    newest first (``("2026Q3", "2026年第3季度")``)."""
    from policy.loader import load_parameters

    first = quarters.Quarter.of(load_parameters().version_dates[0])
    quarter = quarters.Quarter.of(today).previous()
    out = []
    while (quarter.year, quarter.number) >= (first.year, first.number):
        out.append(
            (
                str(quarter),
                str(_("%(year)d年第%(number)d季度")) % {"year": quarter.year, "number": quarter.number},
            )
        )
        quarter = quarter.previous()
    return out


class QuarterForm(forms.Form):
    quarter = forms.CharField(
        label=_("季度"),
        max_length=6,
        help_text=_("季度结束且其后签署检查点后方可抽查"),
        widget=forms.Select,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        widget = self.fields["quarter"].widget
        widget.choices = quarter_choices(timezone.localdate())
        widget.attrs.pop("maxlength", None)

    def clean_quarter(self) -> str:
        try:
            return str(quarters.Quarter.parse(self.cleaned_data["quarter"]))
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc

    @classmethod
    def suggested(cls) -> QuarterForm:
        return cls(initial={"quarter": str(quarters.Quarter.of(timezone.localdate()).previous())})


class ReconcileForm(forms.Form):
    settlement_amount = forms.DecimalField(
        label=_("结算凭证金额（元）"),
        required=False,
        help_text=_("结算凭证为扫描件，请按凭证填写金额以便与监控数据比对；留空则沿用上次填写的金额"),
        **MONEY,  # type: ignore[arg-type]
    )


class FindingForm(forms.Form):
    description = forms.CharField(
        label=_("核查情况"), widget=forms.Textarea(attrs={"rows": 5}), max_length=5000
    )
    amount_at_issue = forms.DecimalField(label=_("涉及金额（元）"), required=False, **MONEY)  # type: ignore[arg-type]
    source = forms.ChoiceField(label=_("来源"), choices=Finding.Source.choices)


class NoticeForm(forms.Form):
    text = forms.CharField(
        label=_("告知内容"),
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=5000,
        help_text=_("写明核查发现的事实和数据；企业可在告知日后 5 个工作日内提出异议"),
    )


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("认定结论"),
        choices=[("upheld", _("认定属实")), ("partial", _("部分认定")), ("dismissed", _("不予认定"))],
        widget=forms.RadioSelect,
    )
    amount_found = forms.DecimalField(
        label=_("认定金额（元）"),
        required=False,
        help_text=_("部分认定时必填：经核查属实的金额，小于涉及金额"),
        **MONEY,  # type: ignore[arg-type]
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") == "partial" and data.get("amount_found") is None:
            self.add_error("amount_found", _("部分认定须填写认定金额"))
        return data

    reasons = forms.CharField(label=_("认定理由"), widget=forms.Textarea(attrs={"rows": 5}), max_length=5000)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented recipe)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else []


class ObjectionForm(forms.Form):
    statement = forms.CharField(
        label=_("异议陈述"), widget=forms.Textarea(attrs={"rows": 8}), max_length=5000
    )
    evidence = MultipleFileField(
        label=_("证据材料"),
        required=False,
        help_text=_("PDF、OFD、JPEG 或 PNG，每个不超过 20 MB，至多 10 个"),
    )


class ClawbackForm(forms.Form):
    """追回: the finding it rests on, preselected, and its amount at issue proposed."""

    finding = forms.ModelChoiceField(
        label=_("依据的核查发现"), queryset=Finding.objects.none(), required=False
    )
    amount = forms.DecimalField(
        label=_("追回金额（元）"),
        help_text=_("默认为核查发现认定的涉及金额；少于已兑现金额为部分追回"),
        **MONEY,  # type: ignore[arg-type]
    )
    reason = forms.CharField(label=_("追回理由"), widget=forms.Textarea(attrs={"rows": 4}), max_length=5000)

    def __init__(
        self, *args: Any, application: Any = None, finding_id: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if application is None:
            return
        from audits.fraud import clawback_default

        upheld = Finding.objects.filter(application=application, status__in=UPHELD_STATUSES)
        self.fields["finding"].queryset = upheld  # type: ignore[attr-defined]
        self.fields["finding"].label_from_instance = _finding_choice  # type: ignore[attr-defined]
        chosen = None
        if finding_id and str(finding_id).isdigit():
            chosen = upheld.filter(pk=int(finding_id)).first()
        if chosen is None:
            chosen = upheld.order_by("-decided_at", "-id").first()
        if chosen is not None:
            self.fields["finding"].initial = chosen.pk
        self.fields["amount"].initial = clawback_default(application, chosen)


def _finding_choice(finding: Finding) -> str:
    amount = (
        _("涉及金额 %(amount)s 元") % {"amount": f"{finding.amount_at_issue:,.2f}"}
        if finding.amount_at_issue is not None
        else _("未认定涉及金额")
    )
    return _("核查发现 #%(id)s（%(amount)s）：%(text)s") % {
        "id": finding.pk,
        "amount": amount,
        "text": finding.description[:40],
    }


class WriteOffForm(forms.Form):
    reason = forms.CharField(label=_("核销理由"), widget=forms.Textarea(attrs={"rows": 2}), max_length=5000)


class RepaymentForm(forms.Form):
    amount = forms.DecimalField(label=_("到账金额（元）"), **MONEY)  # type: ignore[arg-type]
    date = forms.DateField(label=_("到账日期"), widget=forms.DateInput(attrs={"type": "date"}))
    reference = forms.CharField(label=_("银行流水号"), max_length=64)


class BlacklistForm(forms.Form):
    enterprise = forms.ModelChoiceField(
        label=_("企业"), queryset=Enterprise.objects.filter(blacklisted=False).order_by("name")
    )
    reason = forms.CharField(
        label=_("列入黑名单的原因"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=5000,
        help_text=_("企业申报时将看到该原因"),
    )


class LiftForm(forms.Form):
    reason = forms.CharField(label=_("移出理由"), widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)
