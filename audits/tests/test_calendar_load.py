"""Loading an official holiday year recomputes the open deadlines it moves: the enterprise keeps the
later date, the center takes the earlier, the people concerned are told, the preview lists the same."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.core import mail
from django.test import override_settings

from applications import actions as intake
from applications.tests.factories import make_submittable
from audits import findings
from audits.models import DataNotice, Finding
from core.models import Notification
from ledger.models import AuditEvent
from policy.actions import load_holiday_year, preview_holiday_year
from review import actions as review
from review.clock import clock_for
from testing.fixtures import BaseTestCase

CST = dt.timezone(dt.timedelta(hours=8))
D = dt.date

# An official 2027 that makes Saturday 2 January a working day (调休): five and ten working days
# after 28 December 2026 come one day earlier than on the provisional calendar.
OFFICIAL_2027 = {
    "year": 2027,
    "source": "国务院办公厅关于2027年部分节假日安排的通知",
    "holidays": ["2027-01-01", "2027-02-05", "2027-02-08", "2027-02-09", "2027-02-10", "2027-02-11"],
    "workdays": ["2027-01-02", "2027-02-20"],
}


def at(day: str) -> time_machine.travel:
    return time_machine.travel(dt.datetime.fromisoformat(f"{day}T10:00:00+08:00"), tick=False)


@override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
class LoadingAnOfficialYearTests(BaseTestCase):
    def setUp(self) -> None:
        with at("2026-11-02"):  # everything of this one lies in 2026: nothing of it moves
            self.early = intake.submit_application(
                make_submittable(self.bob, launch_date=D(2026, 10, 20), filing_number="京剧备2026-0009"),
                actor=self.bob,
            )
            review.claim_application(self.early, actor=self.reviewer)
        with at("2026-12-28"):
            self.app = intake.submit_application(
                make_submittable(self.alice, launch_date=D(2026, 12, 21)), actor=self.alice
            )
            review.claim_application(self.app, actor=self.reviewer)
            finding = findings.record_finding(
                self.app, actor=self.inspector, description="用量与结算单不符", source=Finding.Source.OTHER
            )
            self.notice = findings.send_data_notice(finding, actor=self.inspector, text="请核对用量")
        self.assertEqual(self.notice.objection_deadline, D(2027, 1, 5))  # 元旦 off, no 调休
        self.assertTrue(self.notice.objection_deadline_provisional)

    def test_it_keeps_the_later_objection_date_moves_the_review_deadline_and_previews_exactly_those(
        self,
    ) -> None:
        with at("2026-12-29"):
            clock = clock_for(self.app)
            self.assertEqual(clock.due, D(2027, 1, 12))
            self.assertTrue(clock.provisional)
            _parsed, preview = preview_holiday_year(OFFICIAL_2027)
            listed = {m.key: m for m in preview}
            self.assertEqual(
                set(listed),
                {f"objection:{self.notice.pk}", f"due:{self.app.pk}", f"cycle_due:{self.app.pk}"},
            )
            objection = listed[f"objection:{self.notice.pk}"]
            self.assertEqual(
                (objection.before, objection.official, objection.after),
                (D(2027, 1, 5), D(2027, 1, 4), D(2027, 1, 5)),
            )
            self.assertTrue(objection.kept)
            due = listed[f"due:{self.app.pk}"]
            self.assertEqual((due.before, due.after), (D(2027, 1, 12), D(2027, 1, 11)))
            self.assertEqual(due.user_ids, (self.reviewer.pk,))
            mail.outbox.clear()
            with self.captureOnCommitCallbacks(execute=True):
                load_holiday_year(OFFICIAL_2027, actor=None)
            notice = DataNotice.objects.get(pk=self.notice.pk)
            self.assertEqual(notice.objection_deadline, D(2027, 1, 5))  # nobody who acted by it is late
            self.assertFalse(notice.objection_deadline_provisional)
            clock = clock_for(self.app)
            self.assertEqual(clock.due, D(2027, 1, 11))
            self.assertFalse(clock.provisional)
            told = Notification.objects.filter(
                user=self.reviewer, title__contains="2027年节假日安排已正式公布"
            )
            self.assertEqual(told.count(), 2)  # the review deadline and the cycle deadline
            self.assertTrue(any("审核期限由 2027-01-12 调整为 2027-01-11" in n.body for n in told))
            self.assertTrue(
                Notification.objects.filter(user=self.alice, body__contains="仍为 2027-01-05").exists()
            )
            self.assertTrue(any(self.alice.email in m.to and "2027" in m.subject for m in mail.outbox))
            event = AuditEvent.objects.get(action="calendar.load")
            assert event.after is not None
            self.assertEqual({m["key"] for m in event.after["deadlines_moved"]}, set(listed))
