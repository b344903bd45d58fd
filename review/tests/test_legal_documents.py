"""The supplement notice and the rejection carry their legal elements, the same in every channel."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.core import mail
from django.urls import reverse

from applications.models import MaterialKind
from applications.states import Status
from core.models import Notification, SmsMessage
from policy.calendar import supplement_due
from policy.loader import params_at
from review import actions
from review.tests.helpers import ReviewTestCase, add_material
from testing.fixtures import make_application

BEIJING = dt.timezone(dt.timedelta(hours=8))
NOTICE_DAY = dt.datetime(2026, 6, 1, 10, 0, tzinfo=BEIJING)  # a Monday


class SupplementNoticeChannelTests(ReviewTestCase):
    def setUp(self) -> None:
        self.alice.phone = "13911112222"
        self.alice.save(update_fields=["phone"])
        self.app = make_application(self.enterprise, self.alice, Status.SUBMITTED)
        add_material(self.app, MaterialKind.USAGE_LOG, user=self.alice)
        actions.claim_application(self.app, actor=self.reviewer)

    @time_machine.travel(NOTICE_DAY, tick=False)
    def test_it_states_the_supplement_deadline_date_in_the_preview_inbox_email_text_message_and_page(
        self,
    ) -> None:
        deadline = supplement_due(dt.date(2026, 6, 1), params_at(dt.date(2026, 6, 1))).date
        self.assertEqual(deadline, dt.date(2026, 6, 15))  # ten working days (deadline.supplement_workdays)
        shown = "2026年6月15日"

        self.login(self.reviewer)
        preview = self.client.post(
            reverse("review:supplement_request", args=[self.app.pk]),
            {"items": ["material:usage_log"], "text:material:usage_log": "日志缺少3月份记录"},
        )
        self.assertContains(preview, shown)
        mail.outbox.clear()
        with self.captureOnCommitCallbacks(execute=True):
            actions.request_supplement(
                self.app, items=[("material:usage_log", "日志缺少3月份记录")], actor=self.reviewer
            )
        inbox = Notification.objects.get(user=self.alice, kind=Notification.Kind.SUPPLEMENT_NOTICE)
        self.assertIn(f"补正截止日期：{shown}", inbox.body)
        self.assertIn("四（四）1", inbox.body)
        self.assertTrue(any(shown in message.body for message in mail.outbox), [m.body for m in mail.outbox])
        sms = SmsMessage.objects.get(user=self.alice, kind=Notification.Kind.SUPPLEMENT_NOTICE)
        self.assertIn(shown, sms.text)
        self.login(self.alice)
        page = self.client.get(reverse("review:supplement", args=[self.app.pk]))
        self.assertContains(page, f"补正截止日期：{shown}")


class RejectionDocumentTests(ReviewTestCase):
    @time_machine.travel(NOTICE_DAY, tick=False)
    def test_it_names_the_clauses_and_the_remedy_periods_in_a_rejection(self) -> None:
        app = make_application(self.enterprise, self.alice, Status.SUBMITTED)
        actions.claim_application(app, actor=self.reviewer)
        with self.captureOnCommitCallbacks(execute=True):
            actions.reject_application(app, actor=self.reviewer, opinion="作品未在平台上线播出")
        body = Notification.objects.get(user=self.alice, kind=Notification.Kind.REJECTION).body
        for words in (
            "作品未在平台上线播出",
            "四（一）",
            "60日内",
            "行政复议",
            "6个月内",
            "行政诉讼",
            "北京市怀柔区文化产业发展促进中心",
        ):
            self.assertIn(words, body)
