"""Acceptance: a fixture quarter with known figures produces exactly the expected flags, and a re-run
against the same checkpoint gives identical results (docs/audits.md, docs/security.md)."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from typing import Any, ClassVar

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from accounts.models import User
from applications.models import Application
from audits import reconciliation
from audits.models import ReconciliationRun
from audits.queries import inputs_for
from audits.tests.fixtures import Monitoring, at, current_checkpoint, declare_rows, make_application
from enterprises.models import Enterprise
from ledger.models import AuditEvent, Checkpoint
from monitoring.models import UsageRecord
from testing.fixtures import USCC_A, USCC_B, BaseTestCase


class FixtureQuarter(BaseTestCase):
    """Seven applications of 2026Q1, each built to trip exactly one rule (A1 none)."""

    apps: ClassVar[dict[str, Application]]
    mon: ClassVar[Monitoring]
    a1_records: ClassVar[list[UsageRecord]]

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        a, b = cls.enterprise, cls.other_enterprise
        mon = cls.mon = Monitoring(cls.provider)

        def app(ent: Enterprise, user: User, filing: str, cost: str, minutes: int, **kw: Any) -> Application:
            return make_application(ent, user, filing, cost=cost, work_minutes=minutes, **kw)

        apps = cls.apps = {
            "A1": app(a, cls.alice, "F1", "1000.00", 100),
            "A2": app(a, cls.alice, "F2", "1200.00", 100),
            "A3": app(b, cls.bob, "F3", "450.00", 50),
            "A4": app(b, cls.bob, "F4", "800.00", 100, launch_date=dt.date(2026, 3, 5)),
            "A5": app(a, cls.alice, "F5", "1100.00", 100),
            "A6": app(b, cls.bob, "F6", "1050.00", 100),
            "A7": app(a, cls.alice, "F7", "3000.00", 30),
        }
        # A1: declared = monitored (10 GPU-hours at 100.00).
        declare_rows(apps["A1"], [("A1-1", at(1), 1, 300, "500.00"), ("A1-2", at(2), 1, 300, "500.00")])
        cls.a1_records = mon.hours(USCC_A, "F1", at(1), 10, gpu="GPU-1")
        # A2: declares 1,200.00 against 1,000.00 monitored: over the 5 % tolerance (limit 1,050.00).
        declare_rows(apps["A2"], [("A2-1", at(1), 1, 600, "1200.00")])
        mon.hours(USCC_A, "F2", at(1), 10, gpu="GPU-2")
        # A3: declared, never monitored.
        declare_rows(apps["A3"], [("A3-1", at(1), 1, 270, "450.00")])
        # A4: production 2 March to launch on 5 March; one record the evening before, one on 6 March.
        declare_rows(apps["A4"], [("A4-1", at(2), 1, 480, "800.00")])
        mon.ingest(
            [mon.record(USCC_B, "F4", at(1, 20), gpu="GPU-4")]
            + [mon.record(USCC_B, "F4", at(2, 8 + i), gpu="GPU-4") for i in range(6)]
            + [mon.record(USCC_B, "F4", at(6, 1), gpu="GPU-4")]
        )
        # A5: its detail lists a record the log attributes to A1's work.
        declare_rows(apps["A5"], [(str(cls.a1_records[0].record_id), at(1), 1, 600, "1100.00")])
        mon.hours(USCC_A, "F5", at(1), 11, gpu="GPU-5")
        # A6: its GPU time overlaps a record of another enterprise's work on the same GPU.
        declare_rows(apps["A6"], [("A6-1", at(3), 1, 630, "1050.00")])
        mon.hours(USCC_B, "F6", at(3), 10, cost="105.00", gpu="GPU-6")
        mon.insert_unchecked(USCC_A, "F-X", at(3, 8, 30), gpu="GPU-6")
        # A7: consistent with monitoring, but 100 yuan per work-minute where the others spend 8–12.
        declare_rows(apps["A7"], [("A7-1", at(4), 1, 600, "3000.00")])
        mon.hours(USCC_A, "F7", at(4), 10, cost="300.00", gpu="GPU-7")


class ReconciliationTests(FixtureQuarter):
    def run_all(self) -> dict[str, ReconciliationRun]:
        checkpoint = current_checkpoint()
        return {
            name: reconciliation.run_reconciliation(app, actor=self.inspector, checkpoint=checkpoint)
            for name, app in self.apps.items()
        }

    def test_a_fixture_quarter_produces_exactly_the_expected_flags(self) -> None:
        runs = self.run_all()
        self.assertEqual(
            {name: run.flag_codes for name, run in runs.items()},
            {
                "A1": [],
                "A2": ["over_claim"],
                "A3": ["no_monitoring"],
                "A4": ["outside_window"],
                "A5": ["double_claim"],
                "A6": ["double_claim"],
                "A7": ["cost_outlier"],
            },
        )

    def test_each_flag_carries_the_numbers_behind_it(self) -> None:
        runs = self.run_all()
        over = runs["A2"].flags[0]["numbers"]
        self.assertEqual(
            (over["measure"], over["declared"], over["monitored"], over["limit"], over["tolerance"]),
            ("cost", "1200.00", "1000.00", "1050.00", "0.05"),
        )
        self.assertEqual(runs["A3"].flags[0]["numbers"]["declared_cost"], "450.00")
        window = runs["A4"].flags[0]["numbers"]
        self.assertEqual((window["monitored_before"]["count"], window["monitored_after"]["count"]), (1, 1))
        self.assertEqual(window["window"]["start"], "2026-03-02T08:00:00+08:00")
        self.assertEqual(window["window"]["end"], "2026-03-06T00:00:00+08:00")
        record = runs["A5"].flags[0]["numbers"]
        self.assertEqual((record["record_id"], record["gpu_time"], record["cross_enterprise"]), (1, 0, False))
        self.assertEqual(record["conflicts"][0]["other_application_id"], self.apps["A1"].pk)
        self.assertEqual(record["conflicts"][0]["key"], str(self.a1_records[0].record_id))
        gpu = runs["A6"].flags[0]["numbers"]
        self.assertEqual((gpu["record_id"], gpu["gpu_time"], gpu["cross_enterprise"]), (0, 1, True))
        self.assertEqual(gpu["conflicts"][0]["other_work_ref"], "F-X")
        outlier = runs["A7"].flags[0]["numbers"]
        # median 10.50, MAD 1.50: z = 0.6745 × (100 − 10.5) / 1.5
        self.assertEqual((outlier["median"], outlier["scale"], outlier["z"]), ("10.50", "1.5000", "40.25"))
        self.assertEqual(outlier["peers"], 7)
        self.assertEqual(runs["A1"].monitored["count"], 10)
        self.assertEqual(runs["A1"].monitored["gpu_minutes"], "600.00")
        self.assertEqual(runs["A1"].declared["gpu_minutes"], "600.00")

    def test_rerunning_against_the_same_checkpoint_gives_identical_results(self) -> None:
        checkpoint = current_checkpoint()
        app = self.apps["A2"]
        first = reconciliation.run_reconciliation(app, actor=self.inspector, checkpoint=checkpoint)
        # More usage arrives after the checkpoint: it does not change a run against that checkpoint.
        self.mon.hours(USCC_A, "F2", at(2), 2, gpu="GPU-2")
        again = reconciliation.run_reconciliation(app, actor=self.inspector, checkpoint=checkpoint)
        self.assertEqual((again.flags, again.digest), (first.flags, first.digest))
        self.assertEqual(again.monitored, first.monitored)
        # The latest checkpoint sees 1,200.00 monitored and the over-claim is gone.
        latest = reconciliation.run_reconciliation(app, actor=self.inspector)
        self.assertGreater(latest.checkpoint_tree_size, first.checkpoint_tree_size)
        self.assertEqual(latest.flag_codes, [])

    def test_set_wise_reconciliation_matches_one_by_one(self) -> None:
        checkpoint = current_checkpoint()
        one_by_one = {
            app.pk: reconciliation.run_reconciliation(app, actor=self.inspector, checkpoint=checkpoint)
            for app in self.apps.values()
        }
        batch = reconciliation.reconcile_many(
            Application.objects.filter(pk__in=one_by_one).select_related("enterprise"),
            actor=self.inspector,
            checkpoint=checkpoint,
        )
        self.assertEqual(len(batch), 7)
        for run in batch:
            single = one_by_one[run.application_id]
            self.assertEqual(run.flags, single.flags, run.application_id)
            self.assertEqual(run.monitored, single.monitored, run.application_id)
            self.assertEqual(run.digest, single.digest, run.application_id)
        self.assertTrue(AuditEvent.objects.filter(action="audit.reconcile_batch").exists())

    def test_gpu_time_claimed_by_two_applications_flags_both_in_both_paths(self) -> None:
        # A3's work now has a record inside one of A7's GPU-hours (A7's record started first).
        self.mon.insert_unchecked(USCC_B, "F3", at(4, 9, 15), minutes=30, gpu="GPU-7")
        checkpoint = current_checkpoint()
        pair = [self.apps["A3"], self.apps["A7"]]
        single = [reconciliation.run_reconciliation(app, actor=None, checkpoint=checkpoint) for app in pair]
        batch = reconciliation.reconcile_many(pair, actor=None, checkpoint=checkpoint)
        for runs in (single, batch):
            self.assertEqual([("double_claim" in r.flag_codes) for r in runs], [True, True])
            conflicts = [
                next(f for f in r.flags if f["code"] == "double_claim")["numbers"]["conflicts"] for r in runs
            ]
            self.assertEqual(conflicts[0][0]["other_application_id"], self.apps["A7"].pk)
            self.assertEqual(conflicts[1][0]["other_application_id"], self.apps["A3"].pk)
        self.assertEqual([r.digest for r in single], [r.digest for r in batch])

    def test_a_run_records_the_checkpoint_it_used_and_is_audited(self) -> None:
        checkpoint = current_checkpoint()
        run = reconciliation.run_reconciliation(self.apps["A1"], actor=self.inspector, checkpoint=checkpoint)
        self.assertEqual(run.checkpoint_tree_size, checkpoint.tree_size)
        self.assertEqual(run.checkpoint_root, bytes(checkpoint.root_hash).hex())
        event = AuditEvent.objects.get(action="audit.reconcile", object_id=str(run.pk))
        self.assertEqual(event.actor, self.inspector)
        self.assertEqual((event.after or {})["digest"], run.digest)
        self.assertIsNotNone(event.leaf_index)
        # Logged against the run, not the enterprise: the enterprise does not see it is being checked.
        self.assertIsNone(event.enterprise_id_ref)

    def test_an_entered_settlement_amount_is_compared_and_kept_for_later_runs(self) -> None:
        app = self.apps["A1"]
        run = reconciliation.run_reconciliation(app, actor=self.inspector, settlement_amount=Decimal("1100.00"))
        self.assertEqual(run.flag_codes, ["over_claim"])
        self.assertEqual(run.flags[0]["numbers"]["measure"], "settlement")
        later = reconciliation.run_reconciliation(app, actor=self.inspector)
        self.assertEqual(later.settlement_amount, Decimal("1100.00"))
        self.assertEqual(later.flag_codes, ["over_claim"])

    def test_reconciliation_on_submission_never_blocks(self) -> None:
        app = self.apps["A1"]
        # No policy is in force for a submission in 2025: the run fails, quietly.
        Application.objects.filter(pk=app.pk).update(submitted_at=dt.datetime(2025, 1, 2, tzinfo=dt.UTC))
        with self.assertLogs("audits.reconciliation", level="ERROR"):
            self.assertIsNone(reconciliation.reconcile_quietly(app, actor=None))
        self.assertFalse(ReconciliationRun.objects.filter(application=app).exists())


class ReconcileCommandTests(FixtureQuarter):
    def test_the_cli_reconciles_one_application_or_all_of_them(self) -> None:
        out = io.StringIO()
        call_command("audit", "reconcile", "--application", str(self.apps["A2"].pk), "--json", stdout=out)
        [doc] = json.loads(out.getvalue())
        self.assertEqual([f["code"] for f in doc["flags"]], ["over_claim"])
        out = io.StringIO()
        call_command("audit", "reconcile", "--all", "--user", "inspector", stdout=out)
        self.assertIn("已对账 7 件，其中 6 件有标记", out.getvalue())
        self.assertIn(f"{self.apps['A3'].pk}\t申报用量无监控记录", out.getvalue())
        batch = AuditEvent.objects.get(action="audit.reconcile_batch")
        self.assertEqual(batch.actor, self.inspector)
        with self.assertRaisesMessage(CommandError, "申请 999999 不存在"):
            call_command("audit", "reconcile", "--application", "999999", stdout=io.StringIO())


@pytest.mark.postgres
class PlannerSettingsTests(FixtureQuarter):
    def test_the_set_wise_query_leaves_the_planner_settings_of_the_transaction_alone(self) -> None:
        from django.db import connection

        from audits.setwise import group_totals

        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('enable_sort'), current_setting('work_mem')")
            before = cursor.fetchone()
            totals = group_totals(current_checkpoint().tree_size)
            cursor.execute("SELECT current_setting('enable_sort'), current_setting('work_mem')")
            self.assertEqual(cursor.fetchone(), before)
        self.assertEqual(totals[(USCC_A, "F1")].usage.count, 10)


class TamperedRowTests(FixtureQuarter):
    def test_it_reads_only_usage_rows_that_match_their_log_entry(self) -> None:
        app = self.apps["A1"]
        before = inputs_for(app, current_checkpoint()).monitored.total
        self.assertEqual((before.count, before.cost), (10, Decimal("1000.00")))
        with connection.cursor() as c:
            c.execute(
                "UPDATE monitoring_usagerecord SET cost_cny = %s WHERE id = %s",
                ["5000.00", self.a1_records[0].pk],
            )
        after = inputs_for(app, current_checkpoint()).monitored.total
        self.assertEqual((after.count, after.cost), (9, Decimal("900.00")))

    def test_it_finds_no_double_claim_through_an_edited_row(self) -> None:
        app = self.apps["A1"]
        self.assertEqual(inputs_for(app, current_checkpoint()).conflicts, [])
        with connection.cursor() as c:
            c.execute(  # an F2 record moved onto A1's GPU at the same hour
                "UPDATE monitoring_usagerecord SET gpu_uuid = %s WHERE work_ref = %s AND gpu_uuid = %s",
                ["GPU-1", "F2", "GPU-2"],
            )
        self.assertEqual(inputs_for(app, current_checkpoint()).conflicts, [])

    def test_it_flags_a_tampered_row_in_reconcile_all_as_in_the_per_application_path(self) -> None:
        app = self.apps["A1"]
        with connection.cursor() as c:
            c.execute(
                "UPDATE monitoring_usagerecord SET cost_cny = %s WHERE id = %s",
                ["5000.00", self.a1_records[0].pk],
            )
            c.execute(
                "UPDATE monitoring_usagerecord SET gpu_seconds = %s WHERE id = %s",
                [360000.0, self.a1_records[1].pk],
            )
        out = io.StringIO()
        call_command("audit", "reconcile", "--all", "--json", stdout=out)
        [doc] = [d for d in json.loads(out.getvalue()) if d["application_id"] == app.pk]
        batch = ReconciliationRun.objects.filter(application=app).latest("id")
        checkpoint = Checkpoint.objects.get(tree_size=batch.checkpoint_tree_size)
        single = reconciliation.run_reconciliation(app, actor=None, checkpoint=checkpoint)
        # Both tampered rows are refused by both paths: 8 records, 800.00 against 1,000.00 declared.
        for run in (single, batch):
            self.assertEqual((run.monitored["count"], run.monitored["cost"]), (8, "800.00"))
            self.assertEqual(set(run.flag_codes), {"over_claim"})
        self.assertEqual({f["code"] for f in doc["flags"]}, {"over_claim"})
        self.assertEqual((batch.flags, batch.digest), (single.flags, single.digest))
