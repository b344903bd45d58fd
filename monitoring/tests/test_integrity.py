"""``yingdu ledger verify`` covers the usage rows that reconciliation reads, and never crashes on damage."""

from __future__ import annotations

import io
import re
import sys

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from ledger.tests.test_verify import raw_sql
from ledger.verify import verify_log
from monitoring import integrity, usage_sql
from monitoring.ingest import record_usage_batch
from monitoring.integrity import matching_leaves, refused_rows
from monitoring.models import UsageRecord
from monitoring.tests.factories import hourly, make_node, signed
from testing.fixtures import BaseTestCase


class UsageRowTamperTests(BaseTestCase):
    def setUp(self) -> None:
        self.node, self.key = make_node(self.provider)
        result = record_usage_batch(self.provider, hourly(self.key, 5), actor_repr="test")
        assert all(r.status == "accepted" for r in result.results)
        self.rows = list(UsageRecord.objects.order_by("leaf_index"))
        self.row = self.rows[2]

    def problems(self) -> list[str]:
        result = verify_log(window=256)
        self.assertFalse(result.ok)
        return [str(p) for p in result.problems]

    def assertBothPathsAgree(self) -> None:
        """The set-wise check finds exactly what the row-by-row check finds (verify and reconciliation)."""
        size = verify_log(window=256).tree_size
        found = {}
        for setwise in (True, False):
            integrity.SETWISE = setwise
            try:
                result = verify_log(window=256)
                found[setwise] = (
                    [(p.index, str(p)) for p in result.problems],
                    refused_rows(size, window=256),
                    matching_leaves(r.leaf_index for r in self.rows),
                )
            finally:
                integrity.SETWISE = True
        self.assertEqual(found[True], found[False])

    def assertFoundAt(self, index: int, *fragments: str) -> list[str]:
        self.assertBothPathsAgree()
        result = verify_log(window=256)
        messages = [str(p) for p in result.problems]
        self.assertFalse(result.ok)
        self.assertEqual(result.first_bad_index, index, messages)
        text = " ".join(messages)
        for fragment in fragments:
            self.assertIn(fragment, text)
        return messages

    def test_it_verifies_untouched_usage_rows(self) -> None:
        self.assertBothPathsAgree()
        self.assertEqual(refused_rows(10_000), {})
        result = verify_log(window=256)
        self.assertTrue(result.ok, [str(p) for p in result.problems])
        self.assertEqual(matching_leaves(r.leaf_index for r in self.rows), {r.leaf_index for r in self.rows})

    def test_it_finds_an_edited_cost_naming_the_row(self) -> None:
        with connection.cursor() as c:
            c.execute(
                "UPDATE monitoring_usagerecord SET cost_cny = %s WHERE id = %s", ["99999.00", self.row.pk]
            )
        self.assertFoundAt(self.row.leaf_index, f"算力使用记录 #{self.row.pk}", "费用(cost_cny)")

    def test_it_finds_edited_gpu_seconds_naming_the_row(self) -> None:
        with connection.cursor() as c:
            c.execute(
                "UPDATE monitoring_usagerecord SET gpu_seconds = %s WHERE id = %s", [36000.0, self.row.pk]
            )
        self.assertFoundAt(self.row.leaf_index, f"算力使用记录 #{self.row.pk}", "GPU时长(gpu_seconds)")

    def test_it_finds_an_edited_entry_digest_and_work_ref(self) -> None:
        with connection.cursor() as c:
            c.execute(
                "UPDATE monitoring_usagerecord SET entry_sha256 = %s, work_ref = %s WHERE id = %s",
                ["0" * 64, "京剧备字2026999号", self.row.pk],
            )
        self.assertFoundAt(self.row.leaf_index, "entry_sha256", "work_ref")

    def test_it_finds_a_deleted_usage_row_at_its_entry(self) -> None:
        with connection.cursor() as c:
            c.execute("DELETE FROM monitoring_usagerecord WHERE id = %s", [self.row.pk])
        self.assertFoundAt(self.row.leaf_index, "记录行缺失")

    def test_it_finds_a_row_moved_to_another_entry(self) -> None:
        other = self.rows[3]
        with connection.cursor() as c:
            c.execute("DELETE FROM monitoring_usagerecord WHERE id = %s", [other.pk])
            c.execute(
                "UPDATE monitoring_usagerecord SET leaf_index = %s WHERE id = %s",
                [other.leaf_index, self.row.pk],
            )
        self.assertFoundAt(self.row.leaf_index, "记录行缺失", f"算力使用记录 #{self.row.pk}")

    def test_it_finds_an_entry_whose_enterprise_was_changed(self) -> None:
        with raw_sql() as c:
            c.execute(
                "UPDATE ledger_entry SET enterprise_id = %s WHERE leaf_index = %s",
                [self.other_enterprise.pk, self.row.leaf_index],
            )
        self.assertFoundAt(self.row.leaf_index, "相关企业")

    def test_it_finds_an_entry_whose_provider_was_changed(self) -> None:
        with raw_sql() as c:
            c.execute(
                "UPDATE ledger_entry SET provider_id = %s WHERE leaf_index = %s",
                [self.provider.pk + 1000, self.row.leaf_index],
            )
        self.assertFoundAt(self.row.leaf_index, "相关算力提供方")

    def test_it_finds_an_entry_whose_kind_was_changed(self) -> None:
        with raw_sql() as c:
            c.execute("DELETE FROM monitoring_usagerecord WHERE id = %s", [self.row.pk])
            c.execute(
                "UPDATE ledger_entry SET kind = %s WHERE leaf_index = %s", ["test", self.row.leaf_index]
            )
        self.assertFoundAt(self.row.leaf_index, "类型“test”与其内容")

    def test_it_finds_an_audit_entry_whose_enterprise_was_changed(self) -> None:
        event_index = self.rows[-1].leaf_index + 1  # the batch's audit event follows its records
        with raw_sql() as c:
            c.execute(
                "UPDATE ledger_entry SET enterprise_id = %s WHERE leaf_index = %s AND kind = %s",
                [self.enterprise.pk, event_index, "audit_event"],
            )
            self.assertEqual(c.rowcount, 1)
        self.assertFoundAt(event_index, "相关企业")

    def test_it_names_an_entry_turned_into_text_without_crashing(self) -> None:
        with raw_sql() as c:
            if connection.vendor == "postgresql":
                c.execute("ALTER TABLE ledger_entry ALTER COLUMN data TYPE text USING encode(data, 'escape')")
            else:
                c.execute(
                    "UPDATE ledger_entry SET data = CAST(data AS TEXT) WHERE leaf_index = %s",
                    [self.row.leaf_index],
                )
        out = io.StringIO()
        with self.assertRaises(CommandError):
            call_command("ledger", "verify", stdout=out)
        first = 0 if connection.vendor == "postgresql" else self.row.leaf_index
        self.assertIn(f"第一个异常的序号：{first}", out.getvalue())
        self.assertIn(f"第 {first} 条保存的不是二进制数据", out.getvalue())

    def test_it_names_a_tile_turned_into_text_without_crashing(self) -> None:
        with raw_sql() as c:
            if connection.vendor == "postgresql":
                c.execute("ALTER TABLE ledger_tile ALTER COLUMN hashes TYPE text USING encode(hashes, 'hex')")
            else:
                c.execute("UPDATE ledger_tile SET hashes = hex(hashes)")
        messages = self.assertFoundAt(0)
        self.assertIn("哈希瓦片 0/0 保存的不是二进制数据", " ".join(messages))

    def test_it_finds_a_row_column_holding_text_instead_of_a_number(self) -> None:
        if connection.vendor == "postgresql":
            with connection.cursor() as c:
                c.execute("SET CONSTRAINTS ALL IMMEDIATE")
                c.execute("ALTER TABLE monitoring_usagerecord ALTER COLUMN max_mem_mib TYPE text")
                c.execute(
                    "UPDATE monitoring_usagerecord SET max_mem_mib = 'many' WHERE id = %s", [self.row.pk]
                )
        else:
            with connection.cursor() as c:
                c.execute(
                    "UPDATE monitoring_usagerecord SET max_mem_mib = 'many' WHERE id = %s", [self.row.pk]
                )
        self.assertFoundAt(self.row.leaf_index, f"算力使用记录 #{self.row.pk}的最大显存(max_mem_mib)无法读取")

    def test_it_leaves_edited_rows_out_of_what_reconciliation_may_read(self) -> None:
        with connection.cursor() as c:
            c.execute("UPDATE monitoring_usagerecord SET cost_cny = %s WHERE id = %s", ["1.00", self.row.pk])
            c.execute("DELETE FROM monitoring_usagerecord WHERE id = %s", [self.rows[0].pk])
        good = matching_leaves(r.leaf_index for r in self.rows)
        self.assertEqual(good, {r.leaf_index for r in self.rows[1:]} - {self.row.leaf_index})
        self.assertBothPathsAgree()

    def test_it_checks_untouched_rows_on_the_fast_path_and_sends_edited_ones_to_the_full_check(self) -> None:
        from monitoring.integrity import (
            Lookups,
            agrees_fast,
            full_row_problems,
            usage_entries,
            usage_rows_where,
        )

        where, params = "leaf_index >= %s", [0]
        entries, lookups = usage_entries(where, params), Lookups()
        rows = usage_rows_where(where, params)
        # What the database gives for an undamaged row is what the fast path takes, on either database.
        self.assertEqual([agrees_fast(r, entries[r.leaf_index], lookups) for r in rows], [True] * 5)
        self.assertEqual([full_row_problems(r, entries[r.leaf_index], lookups) for r in rows], [[]] * 5)
        with connection.cursor() as c:
            c.execute("UPDATE monitoring_usagerecord SET energy_wh = %s WHERE id = %s", [1.5, self.row.pk])
        [edited] = [r for r in usage_rows_where(where, params) if r.pk == self.row.pk]
        self.assertFalse(agrees_fast(edited, entries[edited.leaf_index], lookups))
        self.assertIn("energy_wh", " ".join(full_row_problems(edited, entries[edited.leaf_index], lookups)))

    def test_the_database_compares_rows_with_entries_and_names_only_the_edited_ones(self) -> None:
        if connection.vendor != "postgresql":
            self.skipTest("SQLite keeps the row-by-row path")
        where, params = "leaf_index >= %s", [0]
        untouched = integrity._suspects(where, params)
        self.assertEqual((untouched.rows, untouched.orphans), ([], set()))
        with connection.cursor() as c:
            c.execute(
                "UPDATE monitoring_usagerecord SET energy_wh = energy_wh + 1 WHERE id = %s", [self.row.pk]
            )
            c.execute("DELETE FROM monitoring_usagerecord WHERE id = %s", [self.rows[0].pk])
        edited = integrity._suspects(where, params)
        self.assertEqual([r.pk for r in edited.rows], [self.row.pk])
        self.assertEqual(edited.orphans, {self.rows[0].leaf_index})

    def test_it_finds_a_digest_written_in_capitals_on_both_paths(self) -> None:
        with connection.cursor() as c:
            c.execute(
                "UPDATE monitoring_usagerecord SET entry_sha256 = UPPER(entry_sha256) WHERE id = %s",
                [self.row.pk],
            )
        self.assertFoundAt(self.row.leaf_index, "entry_sha256")

    def test_it_finds_white_space_put_around_a_copied_text_on_both_paths(self) -> None:
        with connection.cursor() as c:
            c.execute(
                "UPDATE monitoring_usagerecord SET gpu_uuid = ' ' || gpu_uuid WHERE id = %s", [self.row.pk]
            )
        self.assertFoundAt(self.row.leaf_index, f"算力使用记录 #{self.row.pk}")

    def test_it_finds_a_row_edited_to_the_white_space_its_entry_was_sent_with_on_both_paths(self) -> None:
        # The entry keeps each text as sent, the row keeps it stripped. A row edited back to the
        # text as sent equals its entry to the letter, yet the row-by-row check compares it with
        # the entry's text stripped: the set-wise check must not pass it either.
        sent = "\u3000NVIDIA H200\u2009"
        result = record_usage_batch(
            self.provider, [signed(self.key, gpu="GPU-sent", gpu_model=sent)], actor_repr="test"
        )
        (accepted,) = result.results
        assert accepted.leaf_index is not None
        row = UsageRecord.objects.get(leaf_index=accepted.leaf_index)
        self.assertEqual(row.gpu_model, "NVIDIA H200")
        self.assertTrue(verify_log(window=256).ok)
        with connection.cursor() as c:
            c.execute("UPDATE monitoring_usagerecord SET gpu_model = %s WHERE id = %s", [sent, row.pk])
        self.rows.append(row)
        self.assertFoundAt(row.leaf_index, f"算力使用记录 #{row.pk}")

    def test_the_set_wise_check_strips_what_python_strips(self) -> None:
        white = re.compile(usage_sql.WHITE_SPACE)
        everything = [chr(c) for c in range(sys.maxunicode + 1)]
        self.assertEqual({c for c in everything if white.fullmatch(c)}, {c for c in everything if c.isspace()})

    def test_it_finds_a_node_moved_to_another_provider_on_both_paths(self) -> None:
        other = type(self.provider).objects.create(name="另一算力中心", status=self.provider.status)
        with connection.cursor() as c:
            c.execute("UPDATE monitoring_node SET provider_id = %s WHERE id = %s", [other.pk, self.node.pk])
        self.assertFoundAt(self.rows[0].leaf_index, "节点")
