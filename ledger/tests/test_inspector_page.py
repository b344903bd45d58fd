"""The inspector's page /ledger/: access, status, checkpoint history, entry lookup with proof, verification."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from ledger.actions import append_entries, sign_checkpoint
from ledger.models import VerificationRun
from testing.fixtures import BaseTestCase, make_user


class InspectorPageTests(BaseTestCase):
    def setUp(self) -> None:
        append_entries([b'{"record_id": "r1", "gpu_seconds": 3600}', b"raw"], kind="test")
        sign_checkpoint()

    def test_inspector_sees_size_root_and_checkpoints(self) -> None:
        self.login(self.inspector)
        r = self.client.get("/ledger/")
        self.assertEqual(r.status_code, 200)
        self.assertContains(r, "不可篡改日志")
        self.assertContains(r, "检查点历史")
        self.assertContains(r, "尚未校验")

    def test_audit_admin_may_open_the_page(self) -> None:
        self.login(make_user("auditor", "auditadmin"))
        self.assertEqual(self.client.get("/ledger/").status_code, 200)

    def test_other_roles_are_refused_and_anonymous_users_sent_to_login(self) -> None:
        for user in (self.alice, self.reviewer, self.provider_user, self.outsider):
            self.login(user)
            self.assertEqual(self.client.get("/ledger/").status_code, 403, user.username)
        self.client.logout()
        self.assertEqual(self.client.get("/ledger/").status_code, 302)

    def test_entry_lookup_shows_the_entry_and_its_proof(self) -> None:
        self.login(self.inspector)
        r = self.client.get("/ledger/?index=0")
        self.assertContains(r, "gpu_seconds")
        self.assertContains(r, "包含性证明")
        r = self.client.get("/ledger/?index=99")
        self.assertContains(r, "超出日志范围")

    def test_verify_button_runs_and_stores_a_verification(self) -> None:
        self.login(self.inspector)
        r = self.client.post("/ledger/verify/", follow=True)
        self.assertContains(r, "校验通过")
        run = VerificationRun.objects.get()
        self.assertTrue(run.ok)
        self.assertEqual(run.actor_repr, "inspector")
        self.assertContains(r, "通过")

    def test_verify_button_is_refused_to_other_roles(self) -> None:
        self.login(self.reviewer)
        self.assertEqual(self.client.post("/ledger/verify/").status_code, 403)
        self.assertFalse(VerificationRun.objects.exists())

    def test_checkpoint_history_is_paginated_with_a_fixed_number_of_queries(self) -> None:
        for i in range(30):
            append_entries([f"e{i}".encode()], kind="test")
            sign_checkpoint()
        self.login(self.inspector)
        self.client.get("/ledger/")
        with CaptureQueriesContext(connection) as first:
            self.client.get("/ledger/?page=1")
        with CaptureQueriesContext(connection) as second:
            r = self.client.get("/ledger/?page=2")
        self.assertContains(r, "第 2 / 2 页")
        self.assertEqual(len(first), len(second))
        self.assertLessEqual(len(second), 12)
