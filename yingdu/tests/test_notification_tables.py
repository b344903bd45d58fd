"""The inbox and text-message records moved from review to core in Django's state only: the rows
stay in their tables and read back through core's models (docs/outbox.md)."""

from __future__ import annotations

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import TransactionTestCase

from accounts.models import User
from core.models import Notification, SmsMessage

BEFORE = [("review", "0008_payment_instructions"), ("yingdu", "0002_outbox_email")]
AFTER = [("review", "0010_notification_sms_to_core"), ("yingdu", "0003_notification_sms_from_review")]


class NotificationTablesTests(TransactionTestCase):
    def test_it_keeps_the_rows_written_before_the_move_in_their_tables(self) -> None:
        user = User.objects.create_user(username="alice", password="x")
        executor = MigrationExecutor(connection)
        executor.migrate(BEFORE)
        old = executor.loader.project_state(BEFORE).apps
        old.get_model("review", "Notification").objects.create(
            user_id=user.pk, kind="approval", title="申请已批准", body="正文"
        )
        old.get_model("review", "SmsMessage").objects.create(
            user_id=user.pk, kind="reminder", phone_masked="138****5678", text="提醒"
        )
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        executor.loader.build_graph()
        self.assertEqual(
            list(Notification.objects.values_list("user_id", "title")), [(user.pk, "申请已批准")]
        )
        self.assertEqual(
            list(SmsMessage.objects.values_list("phone_masked", "text")), [("138****5678", "提醒")]
        )
        self.assertEqual(
            (Notification._meta.db_table, SmsMessage._meta.db_table),
            ("review_notification", "review_smsmessage"),
        )
