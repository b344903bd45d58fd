"""Reconciliation's time bound from the witnesses (docs/log.md): a usage record whose stated end is
later than the first witness cosignature covering it, beyond the dated tolerance
``audit.witness_time_tolerance`` (minutes), is flagged.

A set-wise reconciliation wraps its loop in :func:`batch`, so the cosignature times are read once
for all applications, and no application costs a query while no witness has cosigned anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal

from django.utils.translation import gettext as _

from applications.models import Application
from audits.queries import application_keys, key_filter
from audits.rules import ENDS_AFTER_WITNESS, MAX_LISTED, Flag
from core.lib.dates import chinese_datetime
from ledger.witnessing import ends_after_cosignature, first_cosignatures
from monitoring.models import UsageRecord
from policy.loader import PolicyParams

_batch: ContextVar[dict[int, list[tuple[int, dt.datetime]]] | None] = ContextVar(
    "time_bounds_batch", default=None
)


@contextmanager
def batch() -> Iterator[None]:
    """Read the cosignature times once for every application reconciled inside."""
    token = _batch.set({})
    try:
        yield
    finally:
        _batch.reset(token)


def _firsts(tree_size: int) -> list[tuple[int, dt.datetime]]:
    cache = _batch.get()
    if cache is None:
        return first_cosignatures(tree_size)
    if tree_size not in cache:
        cache[tree_size] = first_cosignatures(tree_size)
    return cache[tree_size]


def witness_time_flags(application: Application, params: PolicyParams, tree_size: int) -> list[Flag]:
    tolerance = params.extra.get("audit.witness_time_tolerance")
    if tolerance is None:
        return []
    firsts = _firsts(tree_size)
    if not firsts:
        return []
    rows = (
        UsageRecord.objects.filter(key_filter(application_keys(application)), leaf_index__lt=tree_size)
        .order_by("leaf_index")
        .values_list("leaf_index", "ended_at")
    )
    late = ends_after_cosignature(rows, Decimal(tolerance), firsts)
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
