"""The administrative documents the platform issues to an enterprise, with their legal elements.

Every notice or decision (docs/notices.md) states the facts, the clause of the measures it
applies, the amount where there is one, the deadline as a date (working days from a dated
policy parameter, 暂定 where a provisional year decided it), where to pay or answer, and — for a
decision — the remedies (行政复议 and 行政诉讼, with their periods from the policy parameters).

One function per document builds it as a :class:`Document`; the PDF, the inbox message, the
e-mail and the text message all print that one document, so the four never say different things.
This module builds the documents of the review (the supplement notice and the rejection);
``audits.legal`` those of the audit (data notice, finding decision, clawback decision).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext as _

from applications.models import Application
from core.formats import date_text, money_text
from policy import measures
from policy.calendar import Deadline, supplement_due
from policy.loader import PolicyParams, params_at
from policy.measures import cite
from review.models import SupplementItem, SupplementNotice


@dataclass(frozen=True)
class Document:
    """One notice or decision, every element in words, ready for any channel."""

    title: str  # 文书名称, e.g. 补正告知书
    reference: str  # 申报编号
    addressee: str  # the enterprise
    work_title: str
    issued_on: dt.date
    facts: str  # 事实与理由
    basis: str  # the clauses of the measures applied
    decision: str  # what is decided or asked
    amount: Decimal | None = None
    amount_label: str = ""
    deadline: Deadline | None = None
    deadline_label: str = ""
    where: tuple[tuple[str, str], ...] = ()  # where to pay or answer: (label, value)
    remedies: str = ""
    url: str = ""
    items: tuple[str, ...] = field(default_factory=tuple)

    @property
    def deadline_text(self) -> str:
        """``2026年6月15日`` with ``（暂定）`` where a provisional year decided it."""
        if self.deadline is None:
            return ""
        day = date_text(self.deadline.date)
        return _("%(date)s（暂定）") % {"date": day} if self.deadline.provisional else day

    @property
    def deadline_note(self) -> str:
        """The deadline with why it is provisional, for the full text."""
        if self.deadline is None:
            return ""
        text = _("%(date)s（含当日）") % {"date": date_text(self.deadline.date)}
        if self.deadline.provisional:
            text += _("（暂定：%(reason)s；正式安排公布后，期限取较晚日期）") % {
                "reason": self.deadline.reason
            }
        return text

    def rows(self) -> list[tuple[str, str]]:
        """The document as labelled rows: the PDF's table and the page's card."""
        rows = [
            (_("申报编号"), self.reference),
            (_("企业名称"), self.addressee),
            (_("短剧作品名称"), self.work_title),
            (_("事实与理由"), self.facts),
        ]
        if self.items:
            rows.append((_("补正事项"), "\n".join(f"{i}. {item}" for i, item in enumerate(self.items, 1))))
        rows.append((_("依据"), self.basis))
        rows.append((_("决定或要求"), self.decision))
        if self.amount is not None:
            rows.append((self.amount_label or _("金额（元）"), money_text(self.amount)))
        if self.deadline is not None:
            rows.append((self.deadline_label, self.deadline_note))
        rows.extend(self.where)
        if self.remedies:
            rows.append((_("救济途径"), self.remedies))
        rows.append((_("出具日期"), date_text(self.issued_on)))
        return rows

    def text(self) -> str:
        """The plain text of the inbox message and the e-mail."""
        lines = [_("%(name)s：") % {"name": self.addressee}, "", f"{self.title}（{self.reference}）", ""]
        for label, value in self.rows()[2:]:
            lines.append(f"{label}：{value}")
        if self.url:
            lines += ["", self.url]
        lines += ["", str(settings.AUTHORITY_NAME), _("中国影都人工智能算力服务平台")]
        return "\n".join(lines)


def remedies(params: PolicyParams, *, decision: str) -> str:
    """行政复议 and 行政诉讼 with their periods (policy parameters ``remedy.*``)."""
    return _(
        "如对本%(decision)s不服，可以自收到本%(decision)s之日起%(days)s日内向%(body)s申请行政复议，"
        "或者自收到本%(decision)s之日起%(months)s个月内依法向人民法院提起行政诉讼。"
    ) % {
        "decision": decision,
        "days": params.get("remedy.reconsideration_days"),
        "body": params.get("remedy.reconsideration_body"),
        "months": params.get("remedy.litigation_months"),
    }


def _site(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path if path else ""


def supplement_document(
    application: Application, notice: SupplementNotice, items: Sequence[SupplementItem], *, link: str = ""
) -> Document:
    """补正告知书 (一次性告知): the items to supplement and the day to answer by (四（四）1、3)."""
    params = params_at(notice.notice_date)
    note = notice.note.strip()
    facts = _(
        "经初审，贵单位的申报材料不齐或不符合要求，现一次性告知需补充或更正的事项（第 %(round)s 次告知）。"
    ) % {"round": notice.round}
    if note:
        facts += _("说明：%(note)s") % {"note": note}
    return Document(
        title=_("补正告知书"),
        reference=application.reference or str(application.pk),
        addressee=application.enterprise_name,
        work_title=application.work_title,
        issued_on=notice.notice_date,
        facts=facts,
        basis=cite(measures.REVIEW_ONE_SHOT_NOTICE, measures.CYCLE_WITHOUT_SUPPLEMENT_TIME),
        decision=_(
            "请于补正截止日期前登录平台，逐项补正下列事项后重新提交。补正期间审核时限暂停计算；"
            "逾期未补正的，区文促中心可依据已提交的材料作出审核结论。"
        ),
        deadline=supplement_due(notice.notice_date, params),
        deadline_label=_("补正截止日期"),
        where=((_("补正方式"), _("登录中国影都人工智能算力服务平台，在本申请的“补正材料”页面逐项补正")),),
        url=_site(link),
        items=tuple(f"{item.label}{'：' + item.text if item.text else ''}" for item in items),
    )


def rejection_document(
    application: Application, opinion: str, *, decided_on: dt.date, link: str = ""
) -> Document:
    """不予通过决定: the opinion, the clauses of the conditions and review, the remedies."""
    params = params_at(decided_on)
    return Document(
        title=_("不予通过决定书"),
        reference=application.reference or str(application.pk),
        addressee=application.enterprise_name,
        work_title=application.work_title,
        issued_on=decided_on,
        facts=_("审核意见：%(opinion)s") % {"opinion": opinion or _("未说明")},
        basis=cite(measures.CONDITIONS, measures.MATERIALS, measures.REVIEW_ONE_SHOT_NOTICE),
        decision=_("贵单位的本次申请未通过审核，本申请办理终结。"),
        where=((_("咨询"), _("如有疑问，请联系%(authority)s。") % {"authority": settings.AUTHORITY_NAME}),),
        remedies=remedies(params, decision=_("决定")),
        url=_site(link),
    )
