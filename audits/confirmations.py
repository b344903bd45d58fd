"""Confirmation pages of 追回 and 列入黑名单: both reach the enterprise and cannot be undone, so the
first POST of a valid form states the consequence and only the confirmation acts (``core.confirm``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from applications.models import Application
from core.confirm import confirm_page
from core.templatetags.yingdu_format import money


def clawback_confirmation(request: HttpRequest, app: Application, data: dict[str, Any]) -> HttpResponse:
    amount = data["amount"]
    paid = app.paid_amount or 0
    part = _("全部追回") if amount >= paid else _("部分追回，企业保留 %(kept)s 元") % {"kept": money(paid - amount)}
    return confirm_page(
        request,
        title=_("确认追回补贴"),
        consequence=_(
            "确认后将向企业追回 %(amount)s 元并通知企业，申请状态改为已追回或部分追回，形成应收款。此操作不能撤销。"
        )
        % {"amount": money(amount)},
        action=reverse("audits:clawback", args=[app.pk]),
        button=_("确认追回"),
        cancel=reverse("audits:application", args=[app.pk]),
        summary=[
            (_("申报编号"), app.reference or "—"),
            (_("企业"), app.enterprise_name),
            (_("已兑现金额（元）"), money(app.paid_amount)),
            (_("追回金额（元）"), f"{money(amount)}（{part}）"),
            (_("依据的核查发现"), str(data["finding"]) if data.get("finding") else _("无")),
            (_("追回理由"), data["reason"]),
        ],
    )


def blacklist_confirmation(request: HttpRequest, data: dict[str, Any]) -> HttpResponse:
    enterprise = data["enterprise"]
    return confirm_page(
        request,
        title=_("确认列入黑名单"),
        consequence=_(
            "列入黑名单后，“%(name)s”不能再提交补贴申报，直至移出黑名单；企业将收到通知并看到下列原因。"
        )
        % {"name": enterprise.name},
        action=reverse("audits:blacklist"),
        button=_("确认列入黑名单"),
        cancel=reverse("audits:blacklist"),
        summary=[
            (_("企业"), enterprise.name),
            (_("统一社会信用代码"), enterprise.uscc),
            (_("原因"), data["reason"]),
        ],
    )
