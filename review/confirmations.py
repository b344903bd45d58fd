"""Confirmation steps of the review: a rejection states its consequence and needs its reason; a
supplement notice is previewed exactly as the enterprise will read it before it is sent.

Both show a page on the first POST and act only on the confirmation (``core.confirm``).
"""

from __future__ import annotations

from collections.abc import Sequence

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from accounts.models import User
from applications.models import Application
from core.confirm import carried, confirm_page
from core.models import Notification
from review import actions, notify, transitions

REJECTIONS = frozenset({"reject_initial", "reject_final"})


class RejectionForm(forms.Form):
    opinion = forms.CharField(
        label=_l("不通过的理由"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_l("企业将在通知中看到该理由"),
    )


def rejection_confirmation(
    request: HttpRequest, app: Application, name: str, form: RejectionForm, *, status: int = 200
) -> HttpResponse:
    return confirm_page(
        request,
        title=_("确认不予通过"),
        consequence=_(
            "“%(action)s”后，本申请办理终结，申报编号作废，企业将收到未通过的通知及下面填写的理由。此操作不能撤销。"
        )
        % {"action": transitions.transition_label(name)},
        action=reverse("review:transition", args=[app.pk, name]),
        button=_("确认不予通过"),
        cancel=reverse("review:detail", args=[app.pk]),
        summary=[
            (_("申报编号"), app.reference or "—"),
            (_("企业"), app.enterprise_name),
            (_("作品"), app.work_title),
        ],
        form=form,
        carry=[],
        status=status,
    )


def supplement_preview(
    request: HttpRequest, app: Application, items: Sequence[tuple[str, str]], note: str, *, actor: User
) -> HttpResponse:
    """The notice as the enterprise will read it (same text as the inbox message and the e-mail)."""
    notice, drafted = actions.draft_supplement_notice(app, items, note, actor=actor)
    kind = Notification.Kind.SUPPLEMENT_NOTICE
    title, body, link = notify.applicant_message(app, kind, {"notice": notice, "items": drafted})
    return render(
        request,
        "review/supplement_preview.html",
        {
            "app": app,
            "n": Notification(kind=kind, title=title, body=body, link=link),
            "consequence": _("确认后立即发给企业，审核时限暂停计算，直至企业补正后重新提交。"),
            "summary": [],
            "carry": carried(request),
            "action": reverse("review:supplement_request", args=[app.pk]),
            "button": _("确认发出补正告知"),
            "cancel": reverse("review:detail", args=[app.pk]),
            "form": None,
        },
    )
