"""Audit notifications, sent by the actions after commit: to the enterprise's users (and the
handler address of the application) or to the inspectors concerned.

Every notice goes through ``review.notify.deliver``: an in-app inbox message for each person
and the e-mail as the second channel (delivery failures are logged and swallowed). The
enterprise also reads every data notice on its own page (``audits:notices``).
"""

from __future__ import annotations

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _

from audits import legal
from audits.models import Clawback, DataNotice, Finding, Objection
from core.formats import date_text
from core.models import Notification
from enterprises.models import Enterprise
from review.notify import applicant_users, deliver, enterprise_users


def _url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _body(template: str, context: dict[str, object]) -> str:
    return render_to_string(f"audits/email/{template}.txt", context).strip()


def data_notice_sent(notice_id: int) -> None:
    notice = DataNotice.objects.select_related("finding__application").get(pk=notice_id)
    app = notice.finding.application
    deadline = date_text(notice.objection_deadline)
    if notice.objection_deadline_provisional:
        deadline = _("%(date)s（暂定）") % {"date": deadline}
    subject = _("申请 %(reference)s 核查数据告知，异议截止 %(deadline)s") % {
        "reference": app.reference or app.pk,
        "deadline": deadline,
    }
    link = reverse("audits:notice", args=[notice.pk])
    deliver(
        applicant_users(app),
        kind=Notification.Kind.DATA_NOTICE,
        title=subject,
        body=_body("data_notice", {"document": legal.data_notice_document(notice, link=link)}),
        link=link,
        application=app,
        extra_emails=[app.handler_email],
        sms={"reference": app.reference or app.pk, "deadline": deadline},
    )


def objection_filed(objection_id: int) -> None:
    objection = Objection.objects.select_related(
        "notice__finding__application", "notice__sent_by", "notice__finding__created_by"
    ).get(pk=objection_id)
    finding = objection.notice.finding
    app = finding.application
    subject = _("申请 %(reference)s 的企业对核查数据告知提出异议") % {"reference": app.reference or app.pk}
    link = reverse("audits:finding", args=[finding.pk])
    staff = {u.pk: u for u in (objection.notice.sent_by, finding.created_by) if u is not None and u.is_active}
    deliver(
        staff.values(),
        kind=Notification.Kind.OBJECTION,
        title=subject,
        body=_body("objection", {"objection": objection, "application": app, "url": _url(link)}),
        link=link,
        application=app,
    )


def finding_decided(finding_id: int) -> None:
    finding = Finding.objects.select_related("application").get(pk=finding_id)
    app = finding.application
    notice = DataNotice.objects.filter(finding=finding).first()
    subject = _("申请 %(reference)s 核查结论：%(status)s") % {
        "reference": app.reference or app.pk,
        "status": finding.get_status_display(),
    }
    link = reverse("audits:notice", args=[notice.pk]) if notice else reverse("audits:notices")
    deliver(
        applicant_users(app),
        kind=Notification.Kind.FINDING_DECISION,
        title=subject,
        body=_body("decision", {"document": legal.finding_document(finding, link=link if notice else "")}),
        link=link,
        application=app,
        extra_emails=[app.handler_email],
        sms={"reference": app.reference or app.pk},
    )


def clawback_opened(clawback_id: int) -> None:
    clawback = Clawback.objects.select_related("application").get(pk=clawback_id)
    app = clawback.application
    subject = _("申请 %(reference)s 的补贴被追回 %(amount)s 元") % {
        "reference": app.reference or app.pk,
        "amount": f"{clawback.amount:,.2f}",
    }
    document = legal.clawback_document(clawback, link=_applicant_detail(app.pk))
    deliver(
        applicant_users(app),
        kind=Notification.Kind.CLAWBACK,
        title=subject,
        body=_body("clawback", {"document": document}),
        link=_applicant_detail(app.pk),
        application=app,
        extra_emails=[app.handler_email],
        sms={
            "reference": app.reference or app.pk,
            "amount": f"{clawback.amount:,.2f}",
            "deadline": document.deadline_text,
        },
    )


def blacklisted(enterprise_id: int) -> None:
    enterprise = Enterprise.objects.get(pk=enterprise_id)
    subject = _("%(name)s 已被列入算力补助黑名单") % {"name": enterprise.name}
    deliver(
        enterprise_users(enterprise.pk),
        kind=Notification.Kind.BLACKLIST,
        title=subject,
        body=_body("blacklist", {"enterprise": enterprise}),
        link=reverse("enterprises:mine"),
        extra_emails=[enterprise.handler_email],
    )


def _applicant_detail(application_id: int) -> str:
    return reverse("applications:detail", args=[application_id])
