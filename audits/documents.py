"""The data notice (数据告知书) and the clawback decision (追回决定书) as PDFs the center signs.

Both are rendered with WeasyPrint and signed as PAdES with a timestamp (``core.signing``),
like the 申请表. The enterprise concerned downloads its own; inspectors (and finance, for
clawbacks) any. Each download is logged.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts.models import User, current_user
from accounts.roles import Role
from audits import legal
from audits.models import Clawback, DataNotice
from core.signing import issued_pdf_response, render_signed_pdf
from ledger.actions import record_event


def render_notice_pdf(notice: DataNotice) -> bytes:
    application = notice.finding.application
    html = render_to_string(
        "audits/pdf/notice.html",
        {
            "notice": notice,
            "document": legal.data_notice_document(notice),
            "application": application,
            "reference": application.reference,
            "issued_on": notice.notice_date,
            "generated_at": timezone.localtime(),
        },
    )
    return render_signed_pdf(html, reason=_("区文促中心核查数据告知书"))


def render_clawback_pdf(clawback: Clawback) -> bytes:
    application = clawback.application
    decided_on = legal.clawback_decided_on(clawback)
    html = render_to_string(
        "audits/pdf/clawback.html",
        {
            "clawback": clawback,
            "document": legal.clawback_document(clawback),
            "finding": clawback.finding,
            "application": application,
            "reference": application.reference,
            "decided_on": decided_on,
            "issued_on": decided_on,
            "generated_at": timezone.localtime(),
        },
    )
    return render_signed_pdf(html, reason=_("区文促中心追回决定书"))


def _may_see(user: User, enterprise_id: int | None, *staff_roles: str) -> bool:
    own = user.has_role(Role.APPLICANT) and user.enterprise_id is not None and user.enterprise_id == enterprise_id
    return own or user.has_role(*staff_roles)


@login_required
@require_GET
def notice_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    user = current_user(request)
    notice = get_object_or_404(DataNotice.objects.select_related("finding__application"), pk=pk)
    application = notice.finding.application
    if not _may_see(user, application.enterprise_id, Role.INSPECTOR):
        raise Http404
    content = render_notice_pdf(notice)
    record_event(
        "audit.notice_pdf_download",
        actor=user,
        obj=notice.finding,
        request=request,
        enterprise_id=application.enterprise_id,
    )
    return issued_pdf_response(content, _("数据告知书-%(reference)s.pdf") % {"reference": application.reference})


@login_required
@require_GET
def clawback_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    user = current_user(request)
    clawback = get_object_or_404(Clawback.objects.select_related("application", "finding"), pk=pk)
    application = clawback.application
    if not _may_see(user, application.enterprise_id, Role.INSPECTOR, Role.FINANCE):
        raise Http404
    content = render_clawback_pdf(clawback)
    record_event(
        "audit.clawback_pdf_download",
        actor=user,
        obj=clawback,
        request=request,
        enterprise_id=application.enterprise_id,
    )
    return issued_pdf_response(content, _("追回决定书-%(reference)s.pdf") % {"reference": application.reference})
