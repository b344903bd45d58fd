"""One work, one subsidy under concurrency: two submissions of one filing number race (PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
import time_machine
from django.db import connection

from accounts.roles import Role
from applications import actions
from applications.models import Application
from applications.states import Status
from applications.tests.factories import NOW, make_submittable
from enterprises.models import Provider
from testing.fixtures import USCC_A, USCC_B, make_enterprise, make_user


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_submissions_of_one_filing_number_leave_exactly_one_submitted() -> None:
    with time_machine.travel(NOW, tick=True):
        Provider.objects.create(name="怀柔智算中心", status=Provider.Status.APPROVED)
        alice = make_user(
            "alice", Role.APPLICANT, enterprise=make_enterprise("北京影都智造文化传媒有限公司", USCC_A)
        )
        bob = make_user("bob", Role.APPLICANT, enterprise=make_enterprise("怀柔星河短剧科技有限公司", USCC_B))
        drafts = [(make_submittable(alice), alice), (make_submittable(bob), bob)]
        barrier = threading.Barrier(len(drafts))
        outcomes: list[str] = []

        def submit(application: Application, user: object) -> None:
            try:
                barrier.wait(timeout=10)
                actions.submit_application(application, actor=user)  # type: ignore[arg-type]
                outcomes.append("submitted")
            except actions.SubmissionRefused as exc:
                outcomes.append(exc.problems["filing_number"][0])
            finally:
                connection.close()

        threads = [threading.Thread(target=submit, args=pair) for pair in drafts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert outcomes.count("submitted") == 1 and len(outcomes) == 2, outcomes
    assert "同一作品只能申报一次" in next(o for o in outcomes if o != "submitted")
    assert Application.objects.filter(status=Status.SUBMITTED).count() == 1
