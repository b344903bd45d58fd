"""Application states and the one table of allowed transitions (docs/states.md).

Actions look a transition up here by name and refuse it when the application is not in
one of its source states; nothing else decides which state may follow which.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.functional import Promise as StrPromise
from django.utils.translation import gettext_lazy as _

from accounts.roles import Role


class Status(models.TextChoices):
    DRAFT = "draft", _("草稿")
    SUBMITTED = "submitted", _("已提交")
    INITIAL_REVIEW = "initial_review", _("初审中")
    SUPPLEMENT_REQUESTED = "supplement_requested", _("待补充材料")
    RE_REVIEW = "re_review", _("复审中")
    FINAL_APPROVAL = "final_approval", _("待审批")
    APPROVED = "approved", _("已审批")
    PAID = "paid", _("已兑现")
    REJECTED = "rejected", _("未通过")
    WITHDRAWN = "withdrawn", _("已撤回")
    PARTIALLY_CLAWED_BACK = "partially_clawed_back", _("部分追回")
    CLAWED_BACK = "clawed_back", _("已追回")


@dataclass(frozen=True)
class Transition:
    name: str
    lazy_label: StrPromise  # translated when read, in the language of the request
    sources: frozenset[Status]
    target: Status
    role: str  # the role allowed to take it

    @property
    def label(self) -> str:
        return str(self.lazy_label)


def _t(name: str, label: StrPromise, sources: set[Status], target: Status, role: str) -> Transition:
    return Transition(name, label, frozenset(sources), target, role)


S = Status
TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in [
        _t("submit", _("提交申报"), {S.DRAFT}, S.SUBMITTED, Role.APPLICANT),
        _t("withdraw", _("撤回"), {S.DRAFT, S.SUBMITTED}, S.WITHDRAWN, Role.APPLICANT),
        _t("claim", _("受理并开始初审"), {S.SUBMITTED}, S.INITIAL_REVIEW, Role.REVIEWER),
        _t(
            "request_supplement",
            _("一次性告知补充材料"),
            {S.INITIAL_REVIEW},
            S.SUPPLEMENT_REQUESTED,
            Role.REVIEWER,
        ),
        _t("resubmit", _("补充后重新提交"), {S.SUPPLEMENT_REQUESTED}, S.INITIAL_REVIEW, Role.APPLICANT),
        _t("pass_initial", _("初审通过"), {S.INITIAL_REVIEW}, S.RE_REVIEW, Role.REVIEWER),
        _t("reject_initial", _("初审不通过"), {S.INITIAL_REVIEW}, S.REJECTED, Role.REVIEWER),
        _t("pass_re_review", _("复审通过"), {S.RE_REVIEW}, S.FINAL_APPROVAL, Role.HEAD),
        _t("return_to_initial", _("退回初审"), {S.RE_REVIEW}, S.INITIAL_REVIEW, Role.HEAD),
        _t("return_to_re_review", _("退回复审"), {S.FINAL_APPROVAL}, S.RE_REVIEW, Role.APPROVER),
        _t("approve", _("审批通过"), {S.FINAL_APPROVAL}, S.APPROVED, Role.APPROVER),
        _t("reject_final", _("审批不通过"), {S.FINAL_APPROVAL}, S.REJECTED, Role.APPROVER),
        _t("pay", _("登记兑现"), {S.APPROVED}, S.PAID, Role.FINANCE),
        # A clawback of the whole payment ends in 已追回, of a part in 部分追回 (the rest is kept).
        _t("clawback", _("追回补贴"), {S.PAID}, S.CLAWED_BACK, Role.INSPECTOR),
        _t("partial_clawback", _("部分追回补贴"), {S.PAID}, S.PARTIALLY_CLAWED_BACK, Role.INSPECTOR),
    ]
}

# States in which the application is with the center (the review clock runs or is paused).
IN_REVIEW = frozenset({S.SUBMITTED, S.INITIAL_REVIEW, S.SUPPLEMENT_REQUESTED, S.RE_REVIEW, S.FINAL_APPROVAL})
# States that hold a filing number: one work, one subsidy.
HOLDS_FILING_NUMBER = frozenset(set(Status) - {S.DRAFT, S.WITHDRAWN, S.REJECTED})
# States whose kept amount (granted less clawed back) counts against the enterprise's annual cap.
COUNTS_AGAINST_CAP = frozenset({S.APPROVED, S.PAID, S.PARTIALLY_CLAWED_BACK})
# States of an application that was granted an award (whatever happened to the money since).
GRANTED = frozenset({S.APPROVED, S.PAID, S.PARTIALLY_CLAWED_BACK, S.CLAWED_BACK})
# States that end a case (办结): the enterprise is then asked to rate it once (docs/ratings.md).
ENDS_CASE = frozenset({S.PAID, S.REJECTED, S.WITHDRAWN})
# States in which an ended case may still be rated: a clawback after payment does not reopen it.
RATEABLE = ENDS_CASE | {S.PARTIALLY_CLAWED_BACK, S.CLAWED_BACK}


def allowed(name: str, status: str) -> bool:
    return Status(status) in TRANSITIONS[name].sources
