"""Audit notifications, sent by the actions after commit: e-mail to the enterprise's users (and the
handler address of the application) or to the inspectors concerned.

E-mail goes through ``review.notify.send_email``, which logs and swallows delivery failures; the
enterprise also reads every notice on its own page (``audits:notices``).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import Role
from audits.models import Clawback, DataNotice, Finding, Objection
from enterprises.models import Enterprise
from review.models import Notification
from review.notify import applicant_users, send_email


def _url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _addresses(values: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        address = (value or "").strip()
        if address and address.lower() not in {a.lower() for a in seen}:
            seen[address] = None
    return list(seen)


def enterprise_addresses(enterprise_id: int, extra: Iterable[str] = ()) -> list[str]:
    users = User.objects.filter(
        enterprise_id=enterprise_id, is_active=True, groups__name=Role.APPLICANT
    ).distinct()
    return _addresses([*extra, *(u.email for u in users.order_by("id"))])


def _send(template: str, subject: str, context: dict[str, object], recipients: list[str]) -> None:
    body = render_to_string(f"audits/email/{template}.txt", context).strip()
    send_email(subject, body, recipients)


def data_notice_sent(notice_id: int) -> None:
    notice = DataNotice.objects.select_related("finding__application").get(pk=notice_id)
    app = notice.finding.application
    deadline = notice.objection_deadline.isoformat()
    if notice.objection_deadline_provisional:
        deadline = _("%(date)s（暂定）") % {"date": deadline}
    subject = _("申请 %(reference)s 核查数据告知，异议截止 %(deadline)s") % {
        "reference": app.reference or app.pk,
        "deadline": deadline,
    }
    link = reverse("audits:notice", args=[notice.pk])
    _send(
        "data_notice",
        subject,
        {"notice": notice, "application": app, "url": _url(link)},
        enterprise_addresses(app.enterprise_id, [app.handler_email]),
    )
    # The enterprise's users also find the notice in their in-app inbox.
    Notification.objects.bulk_create(
        [
            Notification(
                user=user,
                application=app,
                kind=Notification.Kind.DATA_NOTICE,
                title=subject,
                body=notice.text,
                link=link,
            )
            for user in applicant_users(app)
        ]
    )


def objection_filed(objection_id: int) -> None:
    objection = Objection.objects.select_related(
        "notice__finding__application", "notice__sent_by", "notice__finding__created_by"
    ).get(pk=objection_id)
    finding = objection.notice.finding
    app = finding.application
    subject = _("申请 %(reference)s 的企业对核查数据告知提出异议") % {"reference": app.reference or app.pk}
    recipients = _addresses([objection.notice.sent_by.email, finding.created_by.email])
    _send(
        "objection",
        subject,
        {
            "objection": objection,
            "application": app,
            "url": _url(reverse("audits:finding", args=[finding.pk])),
        },
        recipients,
    )


def finding_decided(finding_id: int) -> None:
    finding = Finding.objects.select_related("application").get(pk=finding_id)
    app = finding.application
    notice = DataNotice.objects.filter(finding=finding).first()
    subject = _("申请 %(reference)s 核查结论：%(status)s") % {
        "reference": app.reference or app.pk,
        "status": finding.get_status_display(),
    }
    _send(
        "decision",
        subject,
        {
            "finding": finding,
            "application": app,
            "url": _url(reverse("audits:notice", args=[notice.pk])) if notice else "",
        },
        enterprise_addresses(app.enterprise_id, [app.handler_email]),
    )


def clawback_opened(clawback_id: int) -> None:
    clawback = Clawback.objects.select_related("application").get(pk=clawback_id)
    app = clawback.application
    subject = _("申请 %(reference)s 的补贴被追回 %(amount)s 元") % {
        "reference": app.reference or app.pk,
        "amount": f"{clawback.amount:,.2f}",
    }
    _send(
        "clawback",
        subject,
        {"clawback": clawback, "application": app},
        enterprise_addresses(app.enterprise_id, [app.handler_email]),
    )


def blacklisted(enterprise_id: int) -> None:
    enterprise = Enterprise.objects.get(pk=enterprise_id)
    subject = _("%(name)s 已被列入算力补助黑名单") % {"name": enterprise.name}
    _send(
        "blacklist",
        subject,
        {"enterprise": enterprise},
        enterprise_addresses(enterprise.pk, [enterprise.handler_email]),
    )
