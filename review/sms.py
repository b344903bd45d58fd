"""The text messages of the notices that need action (docs/sms.md): which notices send one, and
their words.

A notice that asks its reader to act — a supplement notice, a data notice with its objection
deadline, a finding's decision, a clawback, a staff member's deadlines, an offer — reaches each of
its recipients by text message too. ``review.notify.deliver`` writes the text with :func:`sms_text`;
recording, queueing and sending it is ``core.notifications``'s business.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _

from core.models import Notification
from core.notifications import fit_sms


def templates() -> dict[str, str]:
    """Each kind of notice that needs action and its text; every one fits in one message."""
    return {
        Notification.Kind.SUPPLEMENT_NOTICE: _(
            "【影都算力补助】申请%(reference)s需补充材料（一次性告知），请于%(deadline)s前登录平台逐项补正。"
        ),
        Notification.Kind.DATA_NOTICE: _(
            "【影都算力补助】申请%(reference)s有核查数据告知，如有异议请于%(deadline)s前登录平台提出。"
        ),
        Notification.Kind.FINDING_DECISION: _(
            "【影都算力补助】申请%(reference)s的核查结论已作出，请登录平台查看。"
        ),
        Notification.Kind.CLAWBACK: _("【影都算力补助】%(reference)s追回%(amount)s元，%(deadline)s前缴回"),
        Notification.Kind.REMINDER: _(
            "【影都算力补助】您有%(count)d件办理事项2个工作日内到期，其中%(overdue)d件已逾期，请及时办理。"
        ),
        Notification.Kind.OFFER: _(
            "【影都算力补助】作品%(reference)s已上线可申领补助，请于%(deadline)s前登录平台确认。"
        ),
        Notification.Kind.OFFER_REMINDER: _(
            "【影都算力补助】作品%(reference)s的补助请于%(deadline)s前登录平台确认申报，逾期视为放弃。"
        ),
    }


def sms_text(kind: str, values: Mapping[str, Any]) -> str:
    """The message for ``kind`` with these facts, cut to one message if a value is unexpectedly long."""
    if kind not in templates():
        raise ValueError(f"no SMS template for {kind!r}")
    return fit_sms(templates()[kind] % dict(values))
