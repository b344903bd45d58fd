"""After a verification on PostgreSQL, reconciliation checks only the usage rows written since
(``ledger.unchanged``), and finds exactly the rows the check of every row finds; an incremental
run checks the rows written since the last mark and leaves a mark of its own."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from django.test import TransactionTestCase

from enterprises.models import Enterprise, Provider
from ledger.models import VerificationRun
from ledger.rows import seal
from ledger.tests.test_verify import raw_sql
from ledger.unchanged import last_verified
from ledger.verification import run_verification
from monitoring import integrity
from monitoring.ingest import record_usage_batch
from monitoring.integrity import refused_rows, rows_to_check
from monitoring.models import Node, ReportedUsageLine, UsageRecord
from monitoring.tests.factories import hourly, make_node
from testing.fixtures import USCC_A, USCC_B

SIZE = 10_000  # beyond the log: every row the tests make


@pytest.mark.postgres
class UnchangedRowsTests(TransactionTestCase):
    def setUp(self) -> None:
        if connection.vendor != "postgresql":
            self.skipTest("rows carry the id of the transaction that wrote them on PostgreSQL only")
        self.enterprise = Enterprise.objects.create(
            name="北京影都智造文化传媒有限公司", uscc=USCC_A, status=Enterprise.Status.VERIFIED
        )
        self.provider = Provider.objects.create(name="怀柔智算中心", status=Provider.Status.APPROVED)
        self.node, self.key = make_node(self.provider)
        for batch in range(2):
            self.ingest(f"GPU-{batch}")
        self.rows = list(UsageRecord.objects.order_by("leaf_index"))

    def ingest(self, gpu: str) -> None:
        result = record_usage_batch(self.provider, hourly(self.key, 6, gpu=gpu), actor_repr="test")
        assert all(r.status == "accepted" for r in result.results)

    def sql(self, statement: str, params: list[Any]) -> None:
        with connection.cursor() as cursor:
            cursor.execute(statement, params)

    def to_check(self) -> list[int]:
        verified = last_verified()
        assert verified is not None
        return rows_to_check(SIZE, verified)

    def assertSameAsEveryRowChecked(self) -> dict[int, Any]:
        """What reconciliation refuses after the mark equals what the check of every row refuses,
        set-wise and row by row."""
        with_mark = refused_rows(SIZE)
        # Small windows: more rows written since than a list is read for, the windows holding them.
        self.assertEqual(refused_rows(SIZE, window=32), with_mark)
        VerificationRun.objects.update(snapshot_xmin=None)  # no mark: every row is read
        try:
            self.assertIsNone(last_verified())
            self.assertEqual(with_mark, refused_rows(SIZE, window=256))
            integrity.SETWISE = False
            self.assertEqual(with_mark, refused_rows(SIZE, window=256))
        finally:
            integrity.SETWISE = True
        return with_mark

    def test_a_full_verification_marks_the_rows_it_read_and_nothing_is_left_to_check(self) -> None:
        run = run_verification(actor_repr="test")
        self.assertTrue(run.ok, run.problems)
        self.assertIsNotNone(run.snapshot_xmin)
        self.assertEqual(len(run.mark), 64)
        self.assertEqual(self.to_check(), [])
        self.assertEqual(refused_rows(SIZE), {})

    def test_an_incremental_run_with_no_usable_mark_makes_none(self) -> None:
        run_verification(actor_repr="test")
        VerificationRun.objects.update(snapshot_xmin=None, mark="")
        run = run_verification(actor_repr="test", incremental=True)
        self.assertTrue(run.ok, run.problems)
        self.assertIsNone(run.snapshot_xmin)
        self.assertIsNone(last_verified())

    def test_an_incremental_run_finds_rows_edited_since_the_last_mark_and_marks_the_rows_it_read(self) -> None:
        run_verification(actor_repr="test")
        row = self.rows[3]
        self.sql("UPDATE monitoring_usagerecord SET cost_cny = cost_cny + 1 WHERE id = %s", [row.pk])
        self.ingest("GPU-later")
        run = run_verification(actor_repr="test", incremental=True)
        self.assertFalse(run.ok)
        self.assertEqual({p["index"] for p in run.problems}, {row.leaf_index})
        self.assertIsNotNone(run.snapshot_xmin)
        self.assertEqual(run.rows_named, [row.leaf_index])
        verified = last_verified()
        assert verified is not None
        self.assertEqual((verified.run_id, verified.tree_size), (run.pk, run.tree_size))
        self.assertEqual(self.to_check(), [row.leaf_index])  # the rows of the new entries were read
        self.assertEqual(set(self.assertSameAsEveryRowChecked()), {row.leaf_index})

    def test_a_row_edited_after_an_incremental_mark_is_found_by_the_next_incremental_run(self) -> None:
        run_verification(actor_repr="test")
        self.ingest("GPU-later")
        first = run_verification(actor_repr="test", incremental=True)
        self.assertTrue(first.ok, first.problems)
        self.assertIsNotNone(first.snapshot_xmin)
        self.assertEqual(self.to_check(), [])
        later = UsageRecord.objects.filter(gpu_uuid="GPU-later").order_by("leaf_index").first()
        assert later is not None and later.leaf_index < first.tree_size
        self.sql("UPDATE monitoring_usagerecord SET energy_wh = energy_wh + 1 WHERE id = %s", [later.pk])
        second = run_verification(actor_repr="test", incremental=True)
        self.assertEqual([p["index"] for p in second.problems], [later.leaf_index])
        self.assertEqual(second.rows_named, [later.leaf_index])

    def test_an_incremental_run_finds_seals_rewritten_since_the_last_mark(self) -> None:
        with transaction.atomic():
            (leaf,) = seal(ReportedUsageLine, [987_654])  # a row sealed as deleted
        self.assertTrue(run_verification(actor_repr="test").ok)
        with raw_sql(("ledger_rowseal",)) as cursor:
            cursor.execute("UPDATE ledger_rowseal SET row_id = 987653 WHERE leaf_index = %s", [leaf])
        run = run_verification(actor_repr="test", incremental=True)
        self.assertIn(
            {"index": leaf, "message": f"第 {leaf} 条行状态日志与其记录不一致"}, run.problems
        )
        self.assertEqual(run.rows_named, [leaf])

    def test_reconciliation_checks_only_rows_written_since_and_finds_them_as_every_row_checked(self) -> None:
        run_verification(actor_repr="test")
        edited, moved = self.rows[3], self.rows[8]
        self.sql("UPDATE monitoring_usagerecord SET cost_cny = cost_cny + 1 WHERE id = %s", [edited.pk])
        self.sql("DELETE FROM monitoring_usagerecord WHERE id = %s", [self.rows[9].pk])
        self.sql(
            "UPDATE monitoring_usagerecord SET leaf_index = %s WHERE id = %s", [self.rows[9].leaf_index, moved.pk]
        )
        self.assertEqual(self.to_check(), sorted([edited.leaf_index, self.rows[9].leaf_index]))
        refused = self.assertSameAsEveryRowChecked()
        self.assertEqual(set(refused), {edited.leaf_index, self.rows[9].leaf_index})

    def test_a_row_edited_back_to_its_old_values_is_checked_again(self) -> None:
        run_verification(actor_repr="test")
        row = self.rows[2]
        self.sql("UPDATE monitoring_usagerecord SET cost_cny = cost_cny WHERE id = %s", [row.pk])
        self.assertEqual(self.to_check(), [row.leaf_index])
        self.assertEqual(self.assertSameAsEveryRowChecked(), {})

    def test_rows_refused_at_the_verification_stay_refused_without_being_touched_again(self) -> None:
        row = self.rows[4]
        self.sql("UPDATE monitoring_usagerecord SET gpu_seconds = gpu_seconds * 2 WHERE id = %s", [row.pk])
        run = run_verification(actor_repr="test")
        self.assertFalse(run.ok)
        self.assertEqual(run.rows_named, [row.leaf_index])
        self.assertEqual(self.to_check(), [row.leaf_index])
        self.assertEqual(set(self.assertSameAsEveryRowChecked()), {row.leaf_index})

    def test_rows_of_a_node_or_enterprise_written_since_are_checked_again(self) -> None:
        run_verification(actor_repr="test")
        other = Provider.objects.create(name="另一算力中心", status=Provider.Status.APPROVED)
        Node.objects.filter(pk=self.node.pk).update(provider=other)
        self.assertEqual(self.to_check(), [r.leaf_index for r in self.rows])
        self.assertEqual(set(self.assertSameAsEveryRowChecked()), {r.leaf_index for r in self.rows})

    def test_rows_of_an_enterprise_whose_code_was_changed_since_are_checked_again(self) -> None:
        run_verification(actor_repr="test")
        Enterprise.objects.filter(pk=self.enterprise.pk).update(uscc=USCC_B)
        linked = [r.leaf_index for r in self.rows if r.enterprise_id == self.enterprise.pk]
        self.assertTrue(linked)
        self.assertEqual(self.to_check(), linked)
        self.assertEqual(set(self.assertSameAsEveryRowChecked()), set(linked))

    def test_rows_of_entries_logged_after_the_verification_are_checked(self) -> None:
        run_verification(actor_repr="test")
        self.ingest("GPU-later")
        later = list(UsageRecord.objects.filter(gpu_uuid="GPU-later").order_by("leaf_index"))
        self.assertEqual(self.to_check(), [r.leaf_index for r in later])
        self.assertEqual(self.assertSameAsEveryRowChecked(), {})

    def test_a_mark_whose_snapshot_was_moved_forward_is_not_used(self) -> None:
        run_verification(actor_repr="test")
        row = self.rows[1]
        self.sql("UPDATE monitoring_usagerecord SET energy_wh = energy_wh + 1 WHERE id = %s", [row.pk])
        # Someone who can write the database moves the snapshot over their edit: the HMAC no longer holds.
        self.sql(
            "UPDATE ledger_verificationrun SET snapshot_xmin = pg_snapshot_xmax(pg_current_snapshot())::text::bigint",
            [],
        )
        self.assertIsNone(last_verified())
        self.assertEqual(set(refused_rows(SIZE)), {row.leaf_index})

    def test_a_mark_whose_named_rows_were_removed_is_not_used(self) -> None:
        row = self.rows[4]
        self.sql("UPDATE monitoring_usagerecord SET job_id = 'other' WHERE id = %s", [row.pk])
        run_verification(actor_repr="test")
        self.sql("UPDATE ledger_verificationrun SET rows_named = '[]'", [])
        self.assertIsNone(last_verified())
        self.assertEqual(set(refused_rows(SIZE)), {row.leaf_index})
