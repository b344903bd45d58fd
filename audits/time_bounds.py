"""Reconciliation's time bound from the witnesses (docs/log.md): a usage record whose stated end is
later than the first witness cosignature covering it, beyond the dated tolerance
``audit.witness_time_tolerance`` (minutes), is flagged."""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext as _

from applications.models import Application
from audits.queries import _key_filter, application_keys
from audits.rules import ENDS_AFTER_WITNESS, MAX_LISTED, Flag
from ledger.witnessing import ends_after_cosignature
from monitoring.models import UsageRecord
from policy.loader import PolicyParams
from yingdu.lib.dates import chinese_datetime


def witness_time_flags(application: Application, params: PolicyParams, tree_size: int) -> list[Flag]:
    tolerance = params.extra.get("audit.witness_time_tolerance")
    if tolerance is None:
        return []
    rows = (
        UsageRecord.objects.filter(_key_filter(application_keys(application)), leaf_index__lt=tree_size)
        .order_by("leaf_index")
        .values_list("leaf_index", "ended_at")
    )
    late = ends_after_cosignature(rows, Decimal(tolerance), tree_size)
    if not late:
        return []
    index, ended, cosigned = late[0]
    message = _(
        "%(count)d 条使用记录的结束时间晚于见证方首次副署覆盖它的时间超过 %(minutes)s 分钟"
        "（时钟超前或事后补写），如日志第 %(index)d 条结束于 %(ended)s，而 %(cosigned)s 已被副署"
    ) % {
        "count": len(late),
        "minutes": tolerance,
        "index": index,
        "ended": chinese_datetime(ended),
        "cosigned": chinese_datetime(cosigned),
    }
    numbers = {
        "count": len(late),
        "tolerance_minutes": str(tolerance),
        "leaf_indexes": [i for i, _e, _c in late][:MAX_LISTED],
    }
    return [Flag(ENDS_AFTER_WITNESS, "medium", message, numbers)]
