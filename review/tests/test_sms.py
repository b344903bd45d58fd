"""SMS, the third channel of notices that need action: a test gateway on loopback (docs/sms.md)."""

from __future__ import annotations

import datetime as dt

from django.test import override_settings
from django.urls import reverse
from huey.contrib.djhuey import HUEY

from accounts.models import User
from accounts.roles import Role
from applications.models import MaterialKind
from applications.states import Status
from core.models import Notification, SmsMessage
from core.notifications import SMS_MAX_LENGTH, attempt_sms
from core.smsgate import SmsGateway
from ledger.models import AuditEvent
from review import actions
from review.sms import sms_text, templates
from review.tests.helpers import ReviewTestCase, add_material
from testing.fixtures import make_application, make_user

PHONE = "13812345678"
# Long but realistic facts: the longest reference the column holds, the largest amount, a provisional date.
LONGEST = {
    "reference": "YD2026-0000123456789",
    "amount": "999,999,999,999.99",
    "deadline": "2026年12月31日（暂定）",
    "count": 999,
    "overdue": 999,
}


def run_due_retries() -> None:
    """What the background worker does when a retry falls due: run every scheduled task now."""
    later = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=1)
    for task in HUEY.read_schedule(later):
        HUEY.execute(task)


class SmsTests(ReviewTestCase):
    def setUp(self) -> None:
        HUEY.flush()
        User.objects.filter(pk=self.alice.pk).update(phone=PHONE)
        self.alice.refresh_from_db()
        self.app = make_application(self.enterprise, self.alice, Status.SUBMITTED)
        add_material(self.app, MaterialKind.USAGE_LOG, user=self.alice)
        actions.claim_application(self.app, actor=self.reviewer)

    def supplement_notice(self, gateway: SmsGateway) -> None:
        with override_settings(SMS_URL=gateway.url), self.captureOnCommitCallbacks(execute=True):
            actions.request_supplement(
                self.app, items=[("material:usage_log", "缺少3月份记录")], actor=self.reviewer
            )

    def test_it_sends_exactly_one_text_message_per_due_notice(self) -> None:
        with SmsGateway() as gateway:
            self.supplement_notice(gateway)
        self.assertEqual(len(gateway.received), 1)
        [sent] = gateway.received
        self.assertEqual(sent["phone"], PHONE)
        self.assertIn(self.app.reference, sent["text"])
        self.assertIn("补充材料", sent["text"])
        message = SmsMessage.objects.get()
        self.assertEqual(
            (message.status, message.attempts, message.phone_masked, message.kind, message.text),
            (SmsMessage.Status.SENT, 1, "138****5678", Notification.Kind.SUPPLEMENT_NOTICE, sent["text"]),
        )
        self.assertIsNotNone(message.sent_at)
        # The system administrator sees every send, the number masked; nobody else does.
        self.client.force_login(make_user("sys", Role.SYSADMIN))
        page = self.client.get(reverse("review:sms_log"))
        self.assertContains(page, "138****5678")
        self.assertContains(page, "已发送")
        self.assertNotContains(page, PHONE)
        self.client.force_login(self.alice)
        self.assertEqual(self.client.get(reverse("review:sms_log")).status_code, 403)

    def test_it_retries_through_a_gateway_outage_and_delivers_exactly_once(self) -> None:
        with SmsGateway(fail_first=1) as gateway:
            self.supplement_notice(gateway)
            self.assertEqual((gateway.refused, gateway.received), (1, []))
            message = SmsMessage.objects.get()
            self.assertEqual(
                (message.status, message.attempts, message.last_error), ("failed", 1, "HTTP 503")
            )
            with override_settings(SMS_URL=gateway.url):
                run_due_retries()
                run_due_retries()  # nothing left to retry: not sent twice
                attempt_sms(message.pk, PHONE)  # a duplicate delivery of the task: not sent twice either
        self.assertEqual([m["phone"] for m in gateway.received], [PHONE])
        message.refresh_from_db()
        self.assertEqual((message.status, message.attempts, message.last_error), ("sent", 2, ""))

    def test_it_sends_none_after_the_user_opts_out_on_the_settings_page(self) -> None:
        self.client.force_login(self.alice)
        page = self.client.get("/accounts/notifications/")
        self.assertContains(page, "不接收短信提醒")
        response = self.client.post("/accounts/notifications/", {"phone": PHONE, "sms_opt_out": "on"})
        self.assertRedirects(response, "/accounts/notifications/", fetch_redirect_response=False)
        self.alice.refresh_from_db()
        self.assertTrue(self.alice.sms_opt_out)
        event = AuditEvent.objects.get(action="accounts.notification_settings")
        self.assertEqual(event.after, {"sms_opt_out": True})
        bad = self.client.post("/accounts/notifications/", {"phone": "call me"})
        self.assertContains(bad, "请填写6至20位数字的手机号", status_code=422)
        with SmsGateway() as gateway:
            self.supplement_notice(gateway)
        self.assertEqual(gateway.received, [])
        self.assertFalse(SmsMessage.objects.exists())
        # The other channels still carry the notice.
        self.assertTrue(Notification.objects.filter(user=self.alice, kind="supplement_notice").exists())

    def test_every_template_renders_within_70_characters(self) -> None:
        self.assertEqual(
            set(templates()),
            {
                "supplement_notice",
                "data_notice",
                "finding_decision",
                "clawback",
                "reminder",
                "offer",
                "offer_reminder",
            },
        )
        for kind, template in templates().items():
            text = template % LONGEST
            self.assertLessEqual(len(text), SMS_MAX_LENGTH, text)
            self.assertEqual(sms_text(kind, LONGEST), text)
            self.assertNotRegex(text, r"[A-Za-z]{3,}", kind)  # Chinese text, no internal words

    def test_without_a_gateway_the_message_goes_to_the_log_masked(self) -> None:
        with self.assertLogs("core.sms", level="INFO") as logs, self.captureOnCommitCallbacks(execute=True):
            actions.request_supplement(
                self.app, items=[("material:usage_log", "缺少3月份记录")], actor=self.reviewer
            )
        output = "\n".join(logs.output)
        self.assertIn("138****5678", output)
        self.assertNotIn(PHONE, output)
        self.assertEqual(SmsMessage.objects.get().status, SmsMessage.Status.SENT)
