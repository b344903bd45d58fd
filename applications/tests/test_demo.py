"""Demo data: a few drafts and submitted applications, loaded idempotently."""

from __future__ import annotations

import io

import time_machine

from accounts.roles import Role
from applications import demo
from applications.models import Application
from applications.states import Status
from applications.tests.factories import NOW
from enterprises.models import Provider
from yingdu.test import USCC_A, USCC_B, make_enterprise, make_user


@time_machine.travel(NOW, tick=False)
def test_demo_loads_drafts_and_submitted_applications_once(db: object) -> None:
    Provider.objects.create(name="怀柔智算中心", status=Provider.Status.APPROVED)
    make_user("yingzhi", Role.APPLICANT, enterprise=make_enterprise("北京影都智造文化传媒有限公司", USCC_A))
    make_user("xinghe", Role.APPLICANT, enterprise=make_enterprise("怀柔星河短剧科技有限公司", USCC_B))
    out = io.StringIO()
    demo.load(out)
    statuses = sorted(Application.objects.values_list("status", flat=True))
    assert statuses == [Status.DRAFT, Status.DRAFT, Status.SUBMITTED, Status.SUBMITTED], out.getvalue()
    overseas = Application.objects.get(work_title="海上明月")
    assert overseas.requested_amount is not None and str(overseas.requested_amount) == "15600.00"
    demo.load(out)
    assert Application.objects.count() == 4
