"""The staff workbench: queues per role, sorted by deadline, filters, search and pagination."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from applications.models import Application
from applications.states import Status
from review.clock import clock_for
from review.models import Payment, SupplementNotice
from review.tests.helpers import ReviewTestCase
from testing.fixtures import make_application

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 3, 20, 10, tzinfo=SH)


def on(day: int, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, 9, tzinfo=SH)


@time_machine.travel(NOW, tick=False)
class WorkbenchTests(ReviewTestCase):
    def make(self, status: Status, submitted: dt.datetime, **fields: Any) -> Application:
        return make_application(self.enterprise, self.alice, status, submitted=submitted, **fields)

    def rows(self, response) -> list[str]:  # type: ignore[no-untyped-def]
        return [app.reference for app, _clock in response.context["page"].object_list]

    def test_a_reviewer_sees_the_initial_review_queue_sorted_by_deadline(self) -> None:
        late = self.make(Status.INITIAL_REVIEW, on(16))
        early = self.make(Status.SUBMITTED, on(9))
        self.make(Status.RE_REVIEW, on(2))
        self.login(self.reviewer)
        response = self.client.get(reverse("review:workbench"))
        self.assertEqual(response.context["queue"], "initial")
        self.assertEqual(self.rows(response), [early.reference, late.reference])
        self.assertContains(response, "待初审")

    def test_each_role_lands_on_its_own_queue(self) -> None:
        self.make(Status.RE_REVIEW, on(2))
        self.make(Status.FINAL_APPROVAL, on(3))
        self.make(Status.APPROVED, on(4))
        for user, queue, status in [
            (self.head, "re_review", Status.RE_REVIEW),
            (self.approver, "final", Status.FINAL_APPROVAL),
            (self.finance, "payment", Status.APPROVED),
            (self.inspector, "all", None),
        ]:
            with self.subTest(queue):
                self.login(user)
                response = self.client.get(reverse("review:workbench"))
                self.assertEqual(response.context["queue"], queue)
                if status is not None:
                    self.assertEqual({a.status for a, _c in response.context["page"].object_list}, {status})

    def test_overdue_items_come_first_and_are_flagged(self) -> None:
        overdue = self.make(Status.INITIAL_REVIEW, on(2))  # due 16 March
        fresh = self.make(Status.INITIAL_REVIEW, on(19))
        self.login(self.reviewer)
        response = self.client.get(reverse("review:workbench"), {"overdue": "on"})
        self.assertEqual(self.rows(response), [overdue.reference])
        response = self.client.get(reverse("review:workbench"))
        self.assertEqual(self.rows(response), [overdue.reference, fresh.reference])
        self.assertContains(response, "已逾期 4 个工作日")

    def test_filters_by_enterprise_work_filing_number_state_and_month(self) -> None:
        a = self.make(Status.INITIAL_REVIEW, on(5), work_title="星河入梦", filing_number="京剧备字2026-0777")
        b = make_application(self.other_enterprise, self.bob, Status.INITIAL_REVIEW, submitted=on(20, 2))
        self.login(self.reviewer)
        url = reverse("review:workbench")
        cases: list[tuple[dict[str, str], list[str | None]]] = [
            ({"enterprise": "星河短剧"}, [b.reference]),
            ({"work": "入梦"}, [a.reference]),
            ({"filing": "0777"}, [a.reference]),
            ({"q": "星河"}, [a.reference, b.reference]),
            ({"month": "2026-02"}, [b.reference]),
            ({"queue": "all", "status": "initial_review", "month": "2026-03"}, [a.reference]),
        ]
        for params, expected in cases:
            with self.subTest(params):
                self.assertEqual(sorted(self.rows(self.client.get(url, params))), sorted(expected))

    def test_pagination_keeps_the_filters(self) -> None:
        for i in range(23):
            self.make(Status.SUBMITTED, on(10) + dt.timedelta(minutes=i))
        self.login(self.reviewer)
        response = self.client.get(reverse("review:workbench"), {"q": "云端"})
        self.assertEqual(len(response.context["page"].object_list), 20)
        self.assertContains(response, "q=%E4%BA%91%E7%AB%AF&amp;page=2")
        second = self.client.get(reverse("review:workbench"), {"q": "云端", "page": "2"})
        self.assertEqual(len(second.context["page"].object_list), 3)

    def test_the_list_runs_a_fixed_number_of_queries(self) -> None:
        for i in range(3):
            self.make(Status.INITIAL_REVIEW, on(10 + i))
        self.login(self.reviewer)
        url = reverse("review:workbench")
        self.client.get(url)  # warm the calendar cache
        with CaptureQueriesContext(connection) as few:
            self.client.get(url, {"queue": "all"})
        for i in range(12):
            self.make(Status.SUPPLEMENT_REQUESTED if i % 2 else Status.PAID, on(2 + i))
        # The session and its idle-timeout update (3), the user, the security policy, their roles,
        # the calendar's stamp, the applications with their payments (what the clocks read), all their
        # supplement notices, the page's applications whole, and the launched works whose offer is
        # not taken: 12, however many rows.
        with self.assertNumQueries(len(few.captured_queries)):
            response = self.client.get(url, {"queue": "all"})
        self.assertEqual(len(few.captured_queries), 12)
        self.assertEqual(response.context["page"].paginator.count, 15)

    def test_it_shows_each_application_the_clock_of_its_own_review_page(self) -> None:
        utc = dt.UTC
        late_evening = dt.datetime(2026, 3, 8, 16, 30, tzinfo=utc)  # 9 March in Beijing
        without_receipt = self.make(Status.SUBMITTED, late_evening, received_date=None)
        received_later = self.make(Status.INITIAL_REVIEW, on(6), received_date=dt.date(2026, 3, 10))
        waiting = self.make(Status.SUPPLEMENT_REQUESTED, on(2))
        answered = self.make(Status.RE_REVIEW, on(3))
        for app, notice, answer in [(waiting, 4, None), (answered, 5, dt.date(2026, 3, 9))]:
            SupplementNotice.objects.create(
                application=app,
                round=1,
                notice_date=dt.date(2026, 3, notice),
                resubmitted_date=answer,
                created_by=self.reviewer,
            )
        approved = self.make(Status.APPROVED, on(4), approved_at=dt.datetime(2026, 3, 11, 17, tzinfo=utc))
        paid = self.make(
            Status.PAID, on(2), approved_at=on(5), paid_at=on(16), granted_amount=Decimal("15000.00")
        )
        Payment.objects.create(
            application=paid,
            date=dt.date(2026, 3, 12),
            amount=Decimal("15000.00"),
            granted_amount=Decimal("15000.00"),
            bank_reference="B1",
            recorded_by=self.finance,
        )
        paid_unrecorded = self.make(Status.PAID, on(3), approved_at=on(5), paid_at=on(13))
        rejected = self.make(Status.REJECTED, on(2))
        apps = [without_receipt, received_later, waiting, answered, approved, paid, paid_unrecorded, rejected]
        self.login(self.inspector)
        response = self.client.get(reverse("review:workbench"), {"queue": "all"})
        shown = {app.pk: clock for app, clock in response.context["page"].object_list}
        self.assertEqual(set(shown), {a.pk for a in apps})
        for app in apps:
            with self.subTest(app.status):
                self.assertEqual(shown[app.pk], clock_for(Application.objects.get(pk=app.pk)))
        self.assertTrue(shown[waiting.pk].paused)
        self.assertEqual(shown[paid.pk].stage, "done")

    def test_the_workbench_page_links_to_the_review_workbench(self) -> None:
        self.login(self.head)
        self.assertContains(self.client.get(reverse("workbench")), reverse("review:workbench"))
