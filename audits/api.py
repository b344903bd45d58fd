"""Audits API (mounted at /api/v1/audits/): the published quarterly spot-check samples.

``GET /samples/{quarter}`` is public on purpose: the sample is drawn from a seed nobody controls
(the root of the first checkpoint after the quarter ends), and publishing the candidates' ids
and order keys lets anyone recompute it. No enterprise names are included.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router
from ninja.errors import HttpError

from audits import quarters
from audits.models import SpotCheck
from audits.sampling import SampleUnavailable, compute_sample, sample_document

router = Router(tags=["audits"])


@router.get("/samples/{quarter}", summary="季度抽查样本（公开，可复算）")
def sample(request: HttpRequest, quarter: str) -> dict[str, Any]:
    try:
        q = quarters.Quarter.parse(quarter)
        drawn, checkpoint, params = compute_sample(q)
    except (ValueError, SampleUnavailable) as exc:
        raise HttpError(404, str(exc)) from exc
    return sample_document(drawn, checkpoint, params, SpotCheck.objects.filter(quarter=str(q)).first())
