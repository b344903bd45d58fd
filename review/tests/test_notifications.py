"""Notifications: e-mail over SMTP (a real server on loopback) and the in-app inbox; staff reminders."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from applications.states import Status
from core.models import Notification
from core.smtp import SmtpSink
from ledger.models import AuditEvent
from review import actions, notify, reminders, resubmission, transitions
from review.models import DeadlineReminder
from review.tests.helpers import ReviewTestCase
from testing.fixtures import make_application, make_enterprise, make_user

SH = ZoneInfo("Asia/Shanghai")


@pytest.mark.django_db(transaction=True)
def test_the_applicant_is_mailed_through_smtp_at_each_step(smtp_server: SmtpSink) -> None:
    enterprise = make_enterprise("北京影都智造文化传媒有限公司", handler_email="lisi@example.cn")
    alice = make_user("alice", Role.APPLICANT, enterprise=enterprise, email="alice@example.cn")
    reviewer = make_user("reviewer", Role.REVIEWER, email="reviewer@yingdu.local")
    head, approver = make_user("head", Role.HEAD), make_user("approver", Role.APPROVER)
    finance = make_user("finance", Role.FINANCE)
    app = make_application(enterprise, alice, Status.SUBMITTED)

    notify.notify_applicant(app, "submitted", {})
    actions.claim_application(app, actor=reviewer)
    actions.request_supplement(app, items=[("row:platform_name", "请确认上线平台")], actor=reviewer)
    resubmission.resubmit_application(app, answers={"row:platform_name": "平台无误"}, actor=alice)
    actions.pass_initial_review(app, actor=reviewer, opinion="初审意见：同意")
    actions.pass_re_review(app, actor=head, opinion="复审意见：同意")
    actions.approve_application(app, actor=approver, opinion="同意补助")
    actions.record_payment(
        app,
        date=timezone.localdate(),
        amount=Decimal("15000.00"),
        bank_reference="BOC-1",
        actor=finance,  # noqa: DTZ011
    )

    receipt = smtp_server.wait_for(lambda m: "已提交" in m.subject)
    assert sorted(receipt.to) == ["alice@example.cn", "lisi@example.cn"]
    supplement = smtp_server.wait_for(lambda m: "需补充材料" in m.subject)
    assert "请确认上线平台" in supplement.body
    assert f"/review/{app.pk}/supplement/" in supplement.body
    smtp_server.wait_for(lambda m: "企业已补正" in m.subject and m.to == ["reviewer@yingdu.local"])
    approval = smtp_server.wait_for(lambda m: "审批通过" in m.subject)
    assert "15,000.00" in approval.subject
    payment = smtp_server.wait_for(lambda m: "已兑现" in m.subject)
    assert "兑现金额：15,000.00 元" in payment.body
    kinds = list(Notification.objects.filter(user=alice).order_by("id").values_list("kind", flat=True))
    assert kinds == ["submission_receipt", "supplement_notice", "approval", "payment", "rating_request"]


@pytest.mark.django_db(transaction=True)
def test_a_mail_server_that_is_down_does_not_undo_the_decision(settings: Any) -> None:
    from core.smtp import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    enterprise = make_enterprise("怀柔星河短剧科技有限公司")
    alice = make_user("alice", Role.APPLICANT, enterprise=enterprise, email="alice@example.cn")
    app = make_application(enterprise, alice, Status.FINAL_APPROVAL)
    actions.approve_application(app, actor=make_user("approver", Role.APPROVER), opinion="同意补助")
    app.refresh_from_db()
    assert app.status == Status.APPROVED
    assert Notification.objects.filter(user=alice, kind=Notification.Kind.APPROVAL).exists()


class InboxTests(ReviewTestCase):
    def test_the_inbox_lists_the_users_own_messages_and_marks_them_read(self) -> None:
        app = make_application(self.enterprise, self.alice, Status.SUBMITTED)
        notify.notify_applicant(app, Notification.Kind.SUBMISSION_RECEIPT, {})
        other = make_application(self.other_enterprise, self.bob, Status.SUBMITTED)
        notify.notify_applicant(other, Notification.Kind.SUBMISSION_RECEIPT, {})
        self.login(self.alice)
        response = self.client.get(reverse("review:inbox"))
        self.assertContains(response, str(app.reference))
        self.assertNotContains(response, str(other.reference))
        self.assertContains(response, "1 条未读")
        self.client.post(reverse("review:inbox_read"))
        self.assertFalse(Notification.objects.filter(user=self.alice, read_at__isnull=True).exists())
        self.assertTrue(Notification.objects.filter(user=self.bob, read_at__isnull=True).exists())

    def test_nothing_is_sent_for_a_refused_action(self) -> None:
        app = make_application(self.enterprise, self.alice, Status.SUBMITTED)
        with self.captureOnCommitCallbacks(execute=True), self.assertRaises(transitions.ReviewError):
            actions.approve_application(app, actor=self.approver, opinion="同意补助")
        self.assertEqual(len(mail.outbox), 0)
        self.assertFalse(Notification.objects.exists())


@time_machine.travel(dt.datetime(2026, 3, 12, 8, 30, tzinfo=SH), tick=False)
class ReminderTests(ReviewTestCase):
    """Staff are reminded of items due within two working days or overdue, once a day."""

    def setUp(self) -> None:
        for user in (self.reviewer, self.head, self.approver, self.finance):
            user.email = f"{user.username}@yingdu.local"
            user.save(update_fields=["email"])
        self.due_soon = make_application(
            self.enterprise, self.alice, Status.SUBMITTED, submitted=dt.datetime(2026, 3, 2, 9, tzinfo=SH)
        )
        self.overdue = make_application(
            self.enterprise, self.alice, Status.RE_REVIEW, submitted=dt.datetime(2026, 2, 24, 9, tzinfo=SH)
        )
        self.fresh = make_application(
            self.enterprise, self.alice, Status.SUBMITTED, submitted=dt.datetime(2026, 3, 11, 9, tzinfo=SH)
        )

    def test_staff_who_act_next_are_mailed_about_items_due_soon_or_overdue(self) -> None:
        with self.captureOnCommitCallbacks(execute=True):
            sent = reminders.send_deadline_reminders(dt.date(2026, 3, 12))
        self.assertEqual(sent, 2)
        by_recipient = {m.to[0]: m for m in mail.outbox}
        self.assertEqual(set(by_recipient), {self.reviewer.email, self.head.email})
        reviewer_mail = by_recipient[self.reviewer.email]
        self.assertIn(str(self.due_soon.reference), reviewer_mail.body)
        self.assertNotIn(str(self.fresh.reference), reviewer_mail.body)
        self.assertIn("剩余 2 个工作日", reviewer_mail.body)
        self.assertIn("已逾期", by_recipient[self.head.email].body)
        self.assertTrue(AuditEvent.objects.filter(action="review.deadline_reminders").exists())

    def test_reminders_are_sent_once_a_day(self) -> None:
        with self.captureOnCommitCallbacks(execute=True):
            reminders.send_deadline_reminders(dt.date(2026, 3, 12))
            again = reminders.send_deadline_reminders(dt.date(2026, 3, 12))
        self.assertEqual(again, 0)
        self.assertEqual(len(mail.outbox), 2)
        self.assertEqual(DeadlineReminder.objects.count(), 2)

    def test_the_claiming_reviewer_is_the_one_reminded(self) -> None:
        other = make_user("reviewer2", Role.REVIEWER, email="reviewer2@yingdu.local")
        actions.claim_application(self.due_soon, actor=other)
        with self.captureOnCommitCallbacks(execute=True):
            reminders.send_deadline_reminders(dt.date(2026, 3, 12))
        self.assertIn("reviewer2@yingdu.local", [m.to[0] for m in mail.outbox])
        self.assertNotIn(self.reviewer.email, [m.to[0] for m in mail.outbox])

    def test_it_reminds_the_reviewer_who_took_over_not_the_claimant(self) -> None:
        other = make_user("reviewer2", Role.REVIEWER, email="reviewer2@yingdu.local")
        actions.claim_application(self.due_soon, actor=self.reviewer)
        actions.take_over_application(self.due_soon, actor=other, reason="原受理人出差")
        with self.captureOnCommitCallbacks(execute=True):
            reminders.send_deadline_reminders(dt.date(2026, 3, 12))
        self.assertIn("reviewer2@yingdu.local", [m.to[0] for m in mail.outbox])
        self.assertNotIn(self.reviewer.email, [m.to[0] for m in mail.outbox])

    def test_the_management_command_sends_reminders(self) -> None:
        out = io.StringIO()
        with self.captureOnCommitCallbacks(execute=True):
            call_command("send_deadline_reminders", "--date", "2026-03-12", stdout=out)
        self.assertIn("已向 2 名工作人员发送期限提醒", out.getvalue())
        self.assertEqual(len(mail.outbox), 2)

    def test_the_daily_huey_task_calls_the_action(self) -> None:
        from review.tasks import daily_deadline_reminders

        with self.captureOnCommitCallbacks(execute=True):
            result = daily_deadline_reminders.call_local()
        self.assertEqual(result, 2)


@time_machine.travel(dt.datetime(2026, 3, 12, 8, 30, tzinfo=SH), tick=False)
class ReminderWordingTests(ReviewTestCase):
    def test_it_says_beside_each_deadline_whether_it_is_ahead_or_overdue(self) -> None:
        self.head.email = "head@yingdu.local"
        self.head.save(update_fields=["email"])
        make_application(
            self.enterprise, self.alice, Status.RE_REVIEW, submitted=dt.datetime(2026, 2, 24, 9, tzinfo=SH)
        )
        with self.captureOnCommitCallbacks(execute=True):
            reminders.send_deadline_reminders(dt.date(2026, 3, 12))
        body = next(m.body for m in mail.outbox if m.to == ["head@yingdu.local"])
        line = next(row for row in body.splitlines() if row.startswith("- "))
        review_part, cycle_part = line.split("；", 1)
        # The review deadline (9 March) has passed; the cycle deadline is still ahead.
        self.assertIn("审核期限 2026年3月9日，已逾期 3 个工作日", review_part)
        self.assertIn("兑现周期截止", cycle_part)
        self.assertRegex(cycle_part, r"剩余 \d+ 个工作日")
