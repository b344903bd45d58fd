"""The provider portal's upload of bill exports (docs/usage-formats.md): a model-service vendor's or a
reseller's own bill or task export, read by the same parsers as the applicants' (through
``core.hooks.USAGE_EXPORT_READ``) and reported as usage lines of one enterprise's work."""

from __future__ import annotations

import hashlib
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from core import hooks
from core.uploads import read_bounded
from enterprises.models import Provider
from monitoring.schemas import valid_uscc
from monitoring.usage_lines import MAX_LINES, record_usage_lines
from monitoring.views import own_provider

REPORTED_FIELDS = (
    "kind",
    "vendor",
    "category",
    "sku",
    "task_id",
    "day",
    "quantity",
    "unit",
    "output_seconds",
    "resolution",
    "pack_units",
    "invoice_no",
    "list_amount",
    "coupon",
    "voucher",
    "payable",
    "paid",
)


class BillUploadForm(forms.Form):
    enterprise_uscc = forms.CharField(label=gettext_lazy("企业统一社会信用代码"), max_length=18)
    work_ref = forms.CharField(label=gettext_lazy("作品备案号或申报编号"), max_length=100)
    file = forms.FileField(label=gettext_lazy("账单或任务记录导出文件"))

    def clean_enterprise_uscc(self) -> str:
        value = str(self.cleaned_data["enterprise_uscc"]).strip().upper()
        if not valid_uscc(value):
            raise ValidationError(_("统一社会信用代码无效"))
        return value


def reported(
    values: dict[str, Any], *, uscc: str, work_ref: str, provider: Provider, digest: str
) -> dict[str, Any]:
    """A parsed line as the API's reported line; a line without vendor is the provider's own."""
    line = {name: values.get(name) for name in REPORTED_FIELDS if values.get(name) not in (None, "")}
    line["vendor"] = values.get("vendor") or provider.name
    line["line_id"] = f"{digest[:16]}:{values.get('line_number', 0)}:{values.get('unit', '')}"
    return {**line, "enterprise_uscc": uscc, "work_ref": work_ref}


@login_required
@require_http_methods(["GET", "POST"])
def bill_upload(request: HttpRequest) -> HttpResponse:
    provider = own_provider(request)
    form = BillUploadForm(request.POST or None, request.FILES or None)
    outcome: dict[str, Any] | None = None
    status = 200
    if request.method == "POST" and form.is_valid():
        if provider.status != Provider.Status.APPROVED:
            form.add_error(None, _("算力提供方尚未获批准或已停用，不能上报使用记录"))
            return render(
                request, "monitoring/bill_upload.html", {"form": form, "provider": provider}, status=403
            )
        upload = form.cleaned_data["file"]
        try:
            content = read_bounded(upload)
        except ValidationError as exc:
            form.add_error("file", exc)
        else:
            [read] = hooks.collect(
                hooks.USAGE_EXPORT_READ, name=upload.name or "bill", content=content, now=timezone.now()
            )
            digest = hashlib.sha256(content).hexdigest()
            lines = [
                reported(
                    values,
                    uscc=form.cleaned_data["enterprise_uscc"],
                    work_ref=form.cleaned_data["work_ref"],
                    provider=provider,
                    digest=digest,
                )
                for values in read["lines"][:MAX_LINES]
            ]
            result = record_usage_lines(provider, lines, actor_repr=f"portal:{request.user}", request=request)
            outcome = {"format": read["format"], "file_rejected": read["rejected"], **result.as_dict()}
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "monitoring/bill_upload.html",
        {"form": form, "provider": provider, "outcome": outcome},
        status=status,
    )
