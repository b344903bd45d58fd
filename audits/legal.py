"""The audit's documents with their legal elements (docs/notices.md): the data notice (数据告知书),
the finding decision (核查结论) and the clawback decision (追回决定书).

Each is built once here as a ``review.legal.Document``; the signed PDF, the inbox message, the
e-mail and the text message print that document.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from policy import measures
from policy.calendar import Deadline, repayment_due
from policy.loader import params_at
from policy.measures import cite
from review.legal import Document, remedies

if TYPE_CHECKING:
    from audits.models import Clawback, DataNotice, Finding


def _site(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path if path else ""


def repayment_account() -> tuple[tuple[str, str], ...]:
    """Where a clawed-back subsidy is repaid (settings ``REPAYMENT_ACCOUNT_*``)."""
    return (
        (_("收款户名"), str(settings.REPAYMENT_ACCOUNT_NAME)),
        (_("开户银行"), str(settings.REPAYMENT_ACCOUNT_BANK)),
        (_("收款账号"), str(settings.REPAYMENT_ACCOUNT_NUMBER)),
    )


def clawback_decided_on(clawback: Clawback) -> dt.date:
    return timezone.localdate(clawback.created_at) if clawback.created_at else timezone.localdate()


def clawback_deadline(clawback: Clawback) -> Deadline:
    """缴回期限: the Nth working day after the decision (``deadline.repayment_workdays``)."""
    decided_on = clawback_decided_on(clawback)
    return repayment_due(decided_on, params_at(decided_on))


def data_notice_document(notice: DataNotice, *, link: str = "") -> Document:
    """核查数据告知书: what the check found, the clauses, the day to object by and how (五 2、五 3)."""
    application = notice.finding.application
    params = params_at(notice.notice_date)
    return Document(
        title=_("核查数据告知书"),
        reference=application.reference or str(application.pk),
        addressee=application.enterprise_name,
        work_title=application.work_title,
        issued_on=notice.notice_date,
        facts=notice.text,
        basis=cite(measures.SPOT_CHECKS, measures.OBJECTION),
        decision=_(
            "现将核查中发现的上述情况告知贵单位。贵单位如有异议，可在异议截止日期前提交书面说明及佐证材料；"
            "逾期未提出的，视为无异议。本告知书不是核查结论，区文促中心将在听取贵单位意见后作出认定。"
        ),
        amount=notice.finding.amount_at_issue,
        amount_label=_("涉及金额（元）"),
        deadline=Deadline(notice.objection_deadline, notice.objection_deadline_provisional_years),
        deadline_label=_("异议截止日期"),
        where=(
            (
                _("提出异议"),
                _("登录中国影都人工智能算力服务平台，在“核查数据告知”页面提交书面陈述及证据材料"),
            ),
        ),
        remedies=_(
            "本告知书为作出决定前的告知。对其后作出的核查结论或追回决定不服的，可以自收到决定之日起%(days)s日内"
            "向%(body)s申请行政复议，或者自收到决定之日起%(months)s个月内依法向人民法院提起行政诉讼。"
        )
        % {
            "days": params.get("remedy.reconsideration_days"),
            "body": params.get("remedy.reconsideration_body"),
            "months": params.get("remedy.litigation_months"),
        },
        url=_site(link),
    )


def finding_document(finding: Finding, *, link: str = "") -> Document:
    """核查结论: the finding, the decision and its reasons; a finding upheld carries the remedies."""
    application = finding.application
    decided_on = timezone.localdate(finding.decided_at) if finding.decided_at else timezone.localdate()
    params = params_at(decided_on)
    upheld = finding.is_upheld
    return Document(
        title=_("核查结论告知书"),
        reference=application.reference or str(application.pk),
        addressee=application.enterprise_name,
        work_title=application.work_title,
        issued_on=decided_on,
        facts=_("%(description)s\n认定理由：%(reasons)s")
        % {"description": finding.description, "reasons": finding.decision_reasons or _("未说明")},
        basis=cite(measures.OBJECTION, measures.RECOVERY),
        decision=_("核查结论：%(status)s。") % {"status": finding.get_status_display()},
        amount=(finding.amount_found or finding.amount_at_issue) if upheld else None,
        amount_label=_("认定涉及金额（元）"),
        where=((_("咨询"), _("如有疑问，请联系%(authority)s。") % {"authority": settings.AUTHORITY_NAME}),),
        remedies=remedies(params, decision=_("结论")) if upheld else "",
        url=_site(link),
    )


def clawback_document(clawback: Clawback, *, link: str = "") -> Document:
    """追回决定书: facts, clause, amount, the day to repay by, the receiving account, the remedies (五 4)."""
    application = clawback.application
    decided_on = clawback_decided_on(clawback)
    params = params_at(decided_on)
    facts = clawback.reason
    if clawback.finding is not None:
        facts = _("核查发现：%(description)s\n认定理由：%(reasons)s\n追回理由：%(reason)s") % {
            "description": clawback.finding.description,
            "reasons": clawback.finding.decision_reasons or _("未说明"),
            "reason": clawback.reason,
        }
    return Document(
        title=_("算力补助资金追回决定书"),
        reference=application.reference or str(application.pk),
        addressee=application.enterprise_name,
        work_title=application.work_title,
        issued_on=decided_on,
        facts=facts,
        basis=cite(measures.RECOVERY) + _("；《中国影都AI算力补助申请表》第26项材料声明"),
        decision=_(
            "追回已发放的算力补助资金。请贵单位于缴回期限前将应追回金额缴入下列账户，缴款时注明申报编号。"
        ),
        amount=clawback.amount,
        amount_label=_("应追回金额（元）"),
        deadline=clawback_deadline(clawback),
        deadline_label=_("缴回期限"),
        where=repayment_account(),
        remedies=remedies(params, decision=_("决定")),
        url=_site(link),
    )
