"""Every top-level action is one durable transaction; an action made of others is one batch
(core.transactions, docs/states.md)."""

from __future__ import annotations

import pytest
from django.db import transaction

from accounts.actions import update_notification_settings
from accounts.models import User
from core.transactions import batch, durable
from ledger.models import AuditEvent
from testing.fixtures import BaseTestCase


class ActionTransactionTests(BaseTestCase):
    def settings_of(self, user: User) -> tuple[str, bool]:
        user.refresh_from_db()
        return user.phone, user.sms_opt_out

    def test_it_refuses_a_top_level_action_inside_another_transaction(self) -> None:
        before = self.settings_of(self.alice)
        with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
            update_notification_settings(self.alice, phone="13812345678", sms_opt_out=True, actor=self.alice)
        self.assertEqual(self.settings_of(self.alice), before)

    def test_it_runs_a_top_level_action_in_its_own_durable_transaction(self) -> None:
        # Django's TestCase allows a durable block inside the transaction that wraps each test.
        update_notification_settings(self.alice, phone="13812345678", sms_opt_out=True, actor=self.alice)
        self.assertEqual(self.settings_of(self.alice), ("13812345678", True))
        self.assertTrue(AuditEvent.objects.filter(action="accounts.notification_settings").exists())

    def test_it_runs_the_actions_of_a_batch_as_savepoints_all_or_nothing(self) -> None:
        before = (self.settings_of(self.alice), self.settings_of(self.bob))
        with pytest.raises(LookupError), batch():
            update_notification_settings(self.alice, phone="13812345678", sms_opt_out=True, actor=self.alice)
            update_notification_settings(self.bob, phone="13912345678", sms_opt_out=True, actor=self.bob)
            raise LookupError  # the batch fails after both actions: neither stays
        self.assertEqual((self.settings_of(self.alice), self.settings_of(self.bob)), before)
        with batch():
            update_notification_settings(self.alice, phone="13812345678", sms_opt_out=True, actor=self.alice)
            with durable():  # an action inside a batch is a savepoint, not refused
                update_notification_settings(self.bob, phone="13912345678", sms_opt_out=True, actor=self.bob)
        self.assertEqual(self.settings_of(self.bob), ("13912345678", True))

    def test_it_refuses_a_batch_inside_another_transaction(self) -> None:
        with pytest.raises(RuntimeError, match="durable"), transaction.atomic(), batch():
            pass
