"""Drawing a quarter's spot-check sample from the database (read-only), and the published form of it.

The algorithm is :func:`audits.rules.draw_sample`; this module picks its inputs the one way the
rule allows, so the CLI, the inspector page and the public JSON all show the same sample:

* the checkpoint is the earliest one signed at or after the first instant after the quarter's
  last day (Asia/Shanghai), whoever's key signed it;
* the candidates are the applications paid in the quarter (``paid_at`` within it), whatever
  happened to them since;
* the rate and minimum count are the parameters in force on the quarter's last day.
"""

from __future__ import annotations

import base64
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from applications.models import Application
from audits import quarters
from audits.models import SpotCheck
from ledger.models import Checkpoint
from policy.loader import PolicyParams, params_at

FORMULA = (
    'seed = SHA-256(root hash bytes ‖ "{quarter}"); '
    "order candidates by SHA-256(seed ‖ application id as decimal ASCII) ascending; "
    "k = max(min_count, ceil(rate × N)), at most N"
)


def describe_formula(quarter: str) -> str:
    """:data:`FORMULA` as people read it on the spot-check page (the JSON keeps the formula)."""
    return _(
        "种子 = SHA-256（检查点根哈希的字节 ‖ “%(quarter)s”）；每件候选申请的排序值 = "
        "SHA-256（种子 ‖ 申请编号的十进制数字文本），按排序值从小到大排列；"
        "抽取排在最前的 k 件，k = max（最少件数，⌈比例 × 候选件数 N⌉），且不超过 N"
    ) % {"quarter": quarter}


class SampleUnavailable(Exception):
    """The quarter's sample cannot be drawn yet; the message says why (Chinese)."""


def seed_checkpoint(quarter: quarters.Quarter) -> Checkpoint | None:
    """The first checkpoint signed after the quarter ends (``None`` while there is none)."""
    return (
        Checkpoint.objects.filter(created_at__gte=quarter.ends_at)
        .order_by("created_at", "tree_size", "id")
        .first()
    )


def candidate_ids(quarter: quarters.Quarter) -> list[int]:
    """The applications paid in the quarter."""
    return list(
        Application.objects.filter(paid_at__gte=quarter.starts_at, paid_at__lt=quarter.ends_at)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def compute_sample(quarter: quarters.Quarter | str) -> tuple[quarters.Sample, Checkpoint, PolicyParams]:
    """Draw a quarter's sample exactly as anyone could; :class:`SampleUnavailable` before it can be."""
    q = quarters.Quarter.parse(str(quarter))
    if timezone.now() < q.ends_at:
        raise SampleUnavailable(_("%(quarter)s 尚未结束，季度结束后才能抽查") % {"quarter": q})
    checkpoint = seed_checkpoint(q)
    if checkpoint is None:
        raise SampleUnavailable(
            _("%(quarter)s 结束后尚未签署日志检查点，暂不能确定抽查种子") % {"quarter": q}
        )
    params = params_at(q.last_day)
    sample = quarters.draw_sample(
        bytes(checkpoint.root_hash),
        q,
        candidate_ids(q),
        rate=params.audit_sample_rate,
        min_count=params.audit_sample_min_count,
    )
    return sample, checkpoint, params


def sample_document(
    sample: quarters.Sample, checkpoint: Checkpoint, params: PolicyParams, spot: SpotCheck | None = None
) -> dict[str, Any]:
    """Everything needed to recompute the sample, as JSON (the CLI's ``--json`` and the public API)."""
    root = bytes(checkpoint.root_hash)
    references = dict(
        Application.objects.filter(pk__in=[i for i, _k in sample.ordered]).values_list("pk", "reference")
    )
    return {
        "quarter": sample.quarter,
        "formula": FORMULA.format(quarter=sample.quarter),
        "checkpoint": {
            "tree_size": checkpoint.tree_size,
            "root_hash_hex": root.hex(),
            "root_hash_base64": base64.b64encode(root).decode(),
            "signed_at": checkpoint.created_at.isoformat(),
            "note": checkpoint.note,
        },
        "seed": sample.seed.hex(),
        "policy_version": params.version,
        "rate": str(params.audit_sample_rate),
        "min_count": params.audit_sample_min_count,
        "n": sample.n,
        "k": sample.k,
        "candidates": [
            {"application_id": app_id, "reference": references.get(app_id), "order_key": key.hex()}
            for app_id, key in sample.ordered
        ],
        "sample": sample.sample_ids,
        "opened": spot is not None,
        "opened_at": spot.created_at.isoformat() if spot is not None else None,
    }
