"""SMS, the third channel of the notices that need action (docs/sms.md).

A notice that asks its reader to act — a supplement notice, a data notice with its objection
deadline, a finding's decision, a clawback, a staff member's deadlines — reaches each of its
recipients by text message too, unless the person opted out (``User.sms_opt_out``, on their
settings page) or has no mobile number. ``review.notify.deliver`` calls :func:`send_sms` with the
facts for the kind's template; each message is recorded (:class:`SmsMessage`, the number masked),
handed to the background worker after the transaction commits, and sent through the gateway
``SMS_URL`` names (``core.sms``), retried while the gateway fails, and never sent twice.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from core.sms import SmsError, backend
from core.validators import is_mobile, mask_phone
from review.models import Notification, SmsMessage

logger = logging.getLogger(__name__)

MAX_LENGTH = 70  # one message of Chinese text (UCS-2): 70 characters
_MOBILE = re.compile(r"\+?\d{6,20}")


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
    text = templates()[kind] % dict(values)
    return text if len(text) <= MAX_LENGTH else text[: MAX_LENGTH - 1] + "…"


def mobile(user: User) -> str | None:
    """The number a text message to ``user`` goes to, or None (none given, or opted out)."""
    phone = re.sub(r"[\s-]", "", user.phone or "")
    if user.sms_opt_out or not _MOBILE.fullmatch(phone) or not is_mobile(phone):
        return None  # none given, opted out, or a landline: a text message cannot reach it
    return phone


def send_sms(users: Iterable[User], kind: str, values: Mapping[str, Any]) -> list[SmsMessage]:
    """Record one message to each user who takes them and queue it once the transaction commits."""
    if kind not in templates():
        raise ValueError(f"no SMS template for {kind!r}")
    text = sms_text(kind, values)
    messages = []
    for user in users:
        phone = mobile(user)
        if phone is None:
            continue
        message = SmsMessage.objects.create(user=user, kind=kind, phone_masked=mask_phone(phone), text=text)
        transaction.on_commit(_queue(message.pk, phone), robust=True)
        messages.append(message)
    return messages


def _queue(message_id: int, phone: str) -> Callable[[], None]:
    def queue_sms() -> None:
        from review.tasks import deliver_sms

        try:
            deliver_sms(message_id, phone)
        except Exception:  # noqa: BLE001 - a queue that is down must not undo the decision
            logger.exception("SMS %s could not be queued", message_id)

    return queue_sms


def attempt(message_id: int, phone: str) -> None:
    """One try at sending a recorded message (the background worker's task); raises while the
    gateway fails, so the worker tries again. A message already sent is not sent again."""
    with transaction.atomic():
        message = SmsMessage.objects.select_for_update().get(pk=message_id)
        if message.status == SmsMessage.Status.SENT:
            return
        message.attempts += 1
        try:
            backend().send(phone, message.text)
        except SmsError as exc:
            message.status, message.last_error = SmsMessage.Status.FAILED, str(exc)[:200]
            message.save(update_fields=["attempts", "status", "last_error"])
        else:
            message.status, message.sent_at, message.last_error = SmsMessage.Status.SENT, timezone.now(), ""
            message.save(update_fields=["attempts", "status", "sent_at", "last_error"])
            return
    raise SmsError(message.last_error)
