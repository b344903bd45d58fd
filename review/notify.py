"""The platform's notices (docs/states.md): which notice goes to whom, in which words. Delivery — the
inbox row, the queued e-mail and the text message — is ``core.notifications``'s.

Actions call these from ``transaction.on_commit``: nothing is sent for a change that rolled
back, and a mail server that is down never undoes a decision (the failure is logged and the
inbox message is still there).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from accounts.roles import Role
from applications.models import Application
from core import notifications
from core.models import Notification
from enterprises.models import Enterprise
from review import legal
from review.models import notices_of
from review.sms import sms_text

logger = logging.getLogger(__name__)

SUBJECT_PREFIX = gettext_lazy("【影都算力补助】")
# Other apps may name a kind by the event ("submitted") rather than the message ("submission_receipt").
KIND_ALIASES = {
    "submitted": "submission_receipt",
    "supplement": "supplement_notice",
    "approved": "approval",
    "rejected": "rejection",
    "paid": "payment",
}


def _titles() -> dict[str, str]:
    return {
        Notification.Kind.SUBMISSION_RECEIPT: _("申请 %(reference)s 已提交，平台已收到"),
        Notification.Kind.SUPPLEMENT_NOTICE: _("申请 %(reference)s 需补充材料（一次性告知）"),
        Notification.Kind.APPROVAL: _("申请 %(reference)s 审批通过，核定补贴 %(amount)s 元"),
        Notification.Kind.REJECTION: _("申请 %(reference)s 未通过审核"),
        Notification.Kind.PAYMENT: _("申请 %(reference)s 的补贴 %(amount)s 元已兑现"),
        Notification.Kind.RESUBMITTED: _("申请 %(reference)s 企业已补正，请继续初审"),
    }


def applicant_link(application: Application, kind: str) -> str:
    """Where the applicant reads about ``application``: the supplement page for a notice, else the
    intake's page of the application."""
    if kind == Notification.Kind.SUPPLEMENT_NOTICE:
        return reverse("review:supplement", args=[application.pk])
    return reverse("applications:detail", args=[application.pk])


def applicant_users(application: Application) -> list[User]:
    return enterprise_users(application.enterprise_id)


def send_email(subject: str, body: str, recipients: Sequence[str]) -> bool:
    """Put one e-mail with the platform's subject prefix in the outbox (``core.notifications``)."""
    return notifications.queue_email(SUBJECT_PREFIX + subject, body, recipients) is not None


def deliver(
    users: Iterable[User],
    *,
    kind: str,
    title: str,
    body: str,
    link: str = "",
    application: Application | None = None,
    extra_emails: Iterable[str] = (),
    sms: Mapping[str, Any] | None = None,
) -> list[Notification]:
    """A notice in the platform's words, through ``core.notifications.deliver``: an inbox message for
    each user, then one e-mail to them (and to any extra address, such as the handler's on the form).

    A notice that needs action passes ``sms``, the facts for its kind's text message
    (``review.sms``): the third channel, to each user who takes text messages."""
    return notifications.deliver(
        users,
        kind=kind,
        title=title,
        body=body,
        link=link,
        application_id=application.pk if application is not None else None,
        subject=SUBJECT_PREFIX + title,
        extra_emails=extra_emails,
        sms=sms_text(kind, sms) if sms is not None else None,
    )


def enterprise_users(enterprise_id: int) -> list[User]:
    return list(
        User.objects.filter(enterprise_id=enterprise_id, is_active=True, groups__name=Role.APPLICANT)
        .distinct()
        .order_by("id")
    )


def applicant_message(
    application: Application, kind: str, context: dict[str, Any] | None = None
) -> tuple[str, str, str]:
    """The title, text and link of a notice to the applicant, exactly as the inbox and the e-mail
    carry it. A supplement notice not yet sent may be given as ``notice`` with its ``items``.
    The notice's document (``review.legal``) is added to ``context`` as ``document``."""
    kind = Notification.Kind(KIND_ALIASES.get(kind, kind))
    context = context if context is not None else {}
    if kind == Notification.Kind.SUPPLEMENT_NOTICE:
        if "notice" not in context:
            notice_id = context.get("notice_id")
            notices = notices_of(application.pk).prefetch_related("items")
            context["notice"] = notices.get(pk=notice_id) if notice_id else notices.order_by("-round").first()
        if "items" not in context:
            context["items"] = list(context["notice"].items.all()) if context["notice"] is not None else []
    amount = context.get("amount", application.granted_amount)
    link = applicant_link(application, kind)
    title = _titles()[kind] % {
        "reference": application.reference or application.pk,
        "amount": f"{amount:,.2f}" if amount is not None else "",
    }
    document = applicant_document(application, kind, context, link)
    if document is not None:
        context["document"] = document
    body = render_to_string(
        f"review/email/{kind.value}.txt",
        {"application": application, "url": settings.SITE_URL.rstrip("/") + link, **context},
    ).strip()
    return title, body, link


def applicant_document(
    application: Application, kind: str, context: Mapping[str, Any], link: str = ""
) -> legal.Document | None:
    """The administrative document a notice of ``kind`` carries (docs/notices.md), or None."""
    if kind == Notification.Kind.SUPPLEMENT_NOTICE and context.get("notice") is not None:
        return legal.supplement_document(application, context["notice"], context["items"], link=link)
    if kind == Notification.Kind.REJECTION:
        return legal.rejection_document(
            application, str(context.get("opinion", "")), decided_on=timezone.localdate(), link=link
        )
    return None


def notify_applicant(
    application: Application, kind: str, context: dict[str, Any] | None = None
) -> list[Notification]:
    """Tell the applicant enterprise about ``application``: an inbox message for each of its users and
    one e-mail to them and to the handler's address on the form (row 9).

    ``kind`` is a ``Notification.Kind``: submission receipt, supplement notice, approval,
    rejection or payment. ``context`` adds facts for the text (amount, opinion, notice id).
    """
    kind = Notification.Kind(KIND_ALIASES.get(kind, kind))
    context = dict(context or {})
    title, body, link = applicant_message(application, kind, context)
    needs_action = kind == Notification.Kind.SUPPLEMENT_NOTICE
    sms: dict[str, Any] | None = None
    if needs_action:
        document = context.get("document")
        deadline = document.deadline_text if isinstance(document, legal.Document) else ""
        sms = {"reference": application.reference or application.pk, "deadline": deadline}
    return deliver(
        applicant_users(application),
        kind=kind,
        title=title,
        body=body,
        link=link,
        application=application,
        extra_emails=[application.handler_email],
        sms=sms,
    )


def notify_resubmitted(application: Application, reviewer: User) -> None:
    """Tell the reviewer who wrote the notice that the applicant answered it."""
    link = reverse("review:detail", args=[application.pk])
    title = _titles()[Notification.Kind.RESUBMITTED] % {"reference": application.reference or application.pk}
    body = render_to_string(
        "review/email/resubmitted.txt",
        {"application": application, "url": settings.SITE_URL.rstrip("/") + link},
    ).strip()
    deliver(
        [reviewer],
        kind=Notification.Kind.RESUBMITTED,
        title=title,
        body=body,
        link=link,
        application=application,
    )


def remind_staff(user: User, entries: Sequence[tuple[Application, Any]], today: dt.date) -> None:
    """One digest e-mail to a staff member about the items due within 2 working days or overdue."""
    overdue = sum(1 for _app, clock in entries if clock.overdue)
    title = _("办理期限提醒：%(count)d 件即将到期，其中 %(overdue)d 件已逾期") % {
        "count": len(entries),
        "overdue": overdue,
    }
    body = render_to_string(
        "review/email/reminder.txt",
        {
            "user": user,
            "entries": entries,
            "today": today,
            "url": settings.SITE_URL.rstrip("/") + reverse("review:workbench"),
        },
    ).strip()
    deliver(
        [user],
        kind=Notification.Kind.REMINDER,
        title=title,
        body=body,
        link=reverse("review:workbench"),
        sms={"count": len(entries), "overdue": overdue},
    )


def send_submission_receipt(*, application_id: int, actor: User | None = None) -> None:
    """The receipt of a submission (回执), in-app and by e-mail; announced by applications."""
    application = Application.objects.select_related("enterprise", "created_by").get(pk=application_id)
    notify_applicant(
        application,
        Notification.Kind.SUBMISSION_RECEIPT,
        {"amount": application.requested_amount, "received_date": application.received_date},
    )


def enterprise_registered(*, enterprise_id: int, actor: User | None = None) -> None:
    """The registration receipt: the enterprise learns that a reviewer will verify it next."""
    enterprise = Enterprise.objects.get(pk=enterprise_id)
    link = reverse("enterprises:mine")
    title = _("%(name)s 注册已提交，等待资质核验") % {"name": enterprise.name}
    body = render_to_string(
        "review/email/registration.txt",
        {"enterprise": enterprise, "url": settings.SITE_URL.rstrip("/") + link},
    ).strip()
    deliver(
        enterprise_users(enterprise.pk),
        kind=Notification.Kind.REGISTRATION,
        title=title,
        body=body,
        link=link,
        extra_emails=[enterprise.handler_email],
    )


def enterprise_verified(*, enterprise_id: int, actor: User | None = None) -> None:
    """The result of the verification: the enterprise may apply, or learns why it may not."""
    enterprise = Enterprise.objects.get(pk=enterprise_id)
    verified = enterprise.status == Enterprise.Status.VERIFIED
    link = reverse("applications:list") if verified else reverse("enterprises:mine")
    if verified:
        title = _("%(name)s 已通过资质核验，可以申报") % {"name": enterprise.name}
    else:
        title = _("%(name)s 未通过资质核验") % {"name": enterprise.name}
    body = render_to_string(
        "review/email/verification.txt",
        {"enterprise": enterprise, "verified": verified, "url": settings.SITE_URL.rstrip("/") + link},
    ).strip()
    deliver(
        enterprise_users(enterprise.pk),
        kind=Notification.Kind.VERIFICATION,
        title=title,
        body=body,
        link=link,
        extra_emails=[enterprise.handler_email],
    )
