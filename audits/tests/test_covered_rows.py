"""Verify covers every decision: each money or decision row edited in the database is named.

An application goes through review, payment, a finding, a clawback, a repayment and a
write-off through the real actions; then the database is edited behind the platform's back
(the append-only triggers of the log out of the way), and ``verify_log`` must fail naming the
table, the row and the field. The set-wise query and the row-by-row reference find the same rows.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import time_machine
from django.apps import apps
from django.core.management import call_command
from django.db import connection, models
from django.test import override_settings

from applications.models import AnnualGrant
from applications.states import Status
from audits import findings, fraud
from audits.models import Clawback, Finding, Repayment
from ledger import rows
from ledger.actions import append_entries, sign_checkpoint
from ledger.models import Checkpoint, LogState
from ledger.tests.test_verify import raw_sql
from ledger.verify import verify_log
from review import actions as review
from review.models import Payment, ReviewStep
from review.tests.helpers import ReviewTestCase
from testing.fixtures import make_application

BEIJING = dt.timezone(dt.timedelta(hours=8))

# Models whose money or decisions are checked by another registered check.
CHECKED_ELSEWHERE = {"monitoring.UsageRecord": "usage rows against their usage_record entries"}
# Fields that match the names below but hold neither money nor a decision on an application.
NOT_DECISIONS = {
    "enterprises.Delegation.granted_by": "who gave a person the right to act for an enterprise",
    "enterprises.Delegation.granted_at": "when that right was given",
    "applications.SampledClip.duration": "a sampled clip's measured length, evidence rather than money",
}
DECISION_NAME = re.compile(r"opinion|decision|decided|approv|verdict|granted|paid|amount")


def edit(sql: str, params: list[Any]) -> None:
    """Run ``sql`` as an insider would: the append-only triggers of the log out of the way."""
    with raw_sql() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE ledger_rowseal DISABLE TRIGGER USER")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS ledger_rowseal_append_only")
        cursor.execute(sql, params)


class CoveredRowsTests(ReviewTestCase):
    app_id: int
    finding_id: int
    claw_id: int
    repayment_id: int
    payment_id: int
    grant_id: int
    approval_id: int

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        with time_machine.travel(dt.datetime(2026, 4, 1, 10, tzinfo=BEIJING), tick=False):
            app = make_application(cls.enterprise, cls.alice, Status.SUBMITTED, cost="50000.00")
            review.claim_application(app, actor=cls.reviewer, opinion="受理")
            review.pass_initial_review(app, actor=cls.reviewer, opinion="材料齐全")
            review.pass_re_review(app, actor=cls.head, opinion="复核无误")
            review.approve_application(app, actor=cls.approver, opinion="同意")
            app.refresh_from_db()
            assert app.granted_amount is not None
            review.record_payment(
                app,
                date=dt.date(2026, 4, 1),
                amount=app.granted_amount,
                bank_reference="PAY-1",
                actor=cls.finance,
            )
            finding = findings.record_finding(
                app, actor=cls.inspector, description="算力记录与申报不符", source=Finding.Source.OTHER
            )
            findings.decide_finding(finding, actor=cls.inspector, upheld=False, reasons="经核实无问题")
            claw = fraud.claw_back(app, Decimal("1000.00"), actor=cls.inspector, reason="核查属实，追回补贴")
            fraud.record_repayment(
                claw, amount=Decimal("400.00"), date=dt.date(2026, 4, 1), reference="R-1", actor=cls.finance
            )
            fraud.write_off_clawback(claw, reason="无法追缴", actor=cls.finance)
        cls.app_id = app.pk
        cls.finding_id = finding.pk
        cls.claw_id = claw.pk
        cls.repayment_id = Repayment.objects.get(clawback=claw).pk
        cls.payment_id = Payment.objects.get(application=app).pk
        cls.grant_id = AnnualGrant.objects.get(enterprise=cls.enterprise).pk
        cls.approval_id = ReviewStep.objects.filter(application=app, opinion="同意").get().pk

    def assertNamed(self, *words: str) -> None:
        result = verify_log()
        self.assertFalse(result.ok)
        messages = [str(p) for p in result.problems]
        self.assertTrue(any(all(w in m for w in words) for m in messages), messages)
        self.assertEqual(
            sorted(rows.row_mismatches(setwise=True)), sorted(rows.row_mismatches(setwise=False))
        )

    def test_an_untouched_history_verifies(self) -> None:
        result = verify_log()
        self.assertTrue(result.ok, [str(p) for p in result.problems])
        self.assertEqual(list(rows.row_mismatches(setwise=True)), [])
        self.assertEqual(list(rows.row_mismatches(setwise=False)), [])

    def test_it_names_granted_and_paid_raised_together(self) -> None:
        edit(
            "UPDATE applications_application SET granted_amount = granted_amount + 50000,"
            " paid_amount = paid_amount + 50000 WHERE id = %s",
            [self.app_id],
        )
        self.assertNamed(f"申请 #{self.app_id}", "核定补贴金额", "已兑现金额")

    def test_it_names_an_edited_clawed_back_amount(self) -> None:
        edit("UPDATE audits_clawback SET amount = amount + 5000 WHERE id = %s", [self.claw_id])
        self.assertNamed(f"#{self.claw_id}", "应追回金额")

    def test_it_names_an_edited_repayment(self) -> None:
        edit("UPDATE audits_repayment SET amount = 900 WHERE id = %s", [self.repayment_id])
        self.assertNamed(f"#{self.repayment_id}", "金额（元）")

    def test_it_names_an_edited_write_off(self) -> None:
        edit("UPDATE audits_clawback SET written_off = 0 WHERE id = %s", [self.claw_id])
        self.assertNamed(f"#{self.claw_id}", "核销")

    def test_it_names_an_edited_repaid_amount_on_the_application(self) -> None:
        edit("UPDATE applications_application SET repaid_amount = 0 WHERE id = %s", [self.app_id])
        self.assertNamed(f"#{self.app_id}", "已缴回金额")

    def test_it_names_an_approval_opinion_overwritten(self) -> None:
        edit("UPDATE review_reviewstep SET opinion = %s WHERE id = %s", ["不同意", self.approval_id])
        self.assertNamed(f"#{self.approval_id}", "意见")

    def test_it_names_a_replaced_approver(self) -> None:
        edit("UPDATE review_reviewstep SET actor_id = %s WHERE id = %s", [self.reviewer.pk, self.approval_id])
        self.assertNamed(f"#{self.approval_id}", "操作人")

    def test_it_names_a_changed_finding_decision(self) -> None:
        edit("UPDATE audits_finding SET status = %s WHERE id = %s", ["upheld", self.finding_id])
        self.assertNamed(f"#{self.finding_id}", "状态")

    def test_it_names_an_edited_payment_amount(self) -> None:
        edit(
            "UPDATE review_payment SET amount = amount + 1, granted_amount = granted_amount + 1 WHERE id = %s",
            [self.payment_id],
        )
        self.assertNamed(f"#{self.payment_id}", "兑现金额")

    def test_it_names_an_edited_annual_grant(self) -> None:
        # The record of the annual cap is the applications app's, in the table it always had.
        self.assertIn("applications.AnnualGrant", {spec.model._meta.label for spec in rows.covered_tables()})
        edit("UPDATE review_annualgrant SET total = 0 WHERE id = %s", [self.grant_id])
        self.assertNamed(f"#{self.grant_id}", "已核定总额")

    def test_it_names_a_deleted_payment(self) -> None:
        edit("DELETE FROM review_payment WHERE id = %s", [self.payment_id])
        self.assertNamed(f"#{self.payment_id}", "被删除")

    def test_it_names_a_payment_inserted_without_entry(self) -> None:
        payment = Payment.objects.get(pk=self.payment_id)
        other = make_application(self.enterprise, self.alice, Status.APPROVED, cost="20000.00")
        edit(
            "INSERT INTO review_payment (application_id, date, amount, granted_amount, bank_reference,"
            " recorded_by_id, recorded_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [
                other.pk,
                payment.date,
                payment.amount,
                payment.amount,
                "X",
                self.finance.pk,
                payment.recorded_at,
            ],
        )
        self.assertNamed("没有日志条目")

    def test_rows_from_before_sealing_are_not_covered_until_sealed_once(self) -> None:
        grant = AnnualGrant.objects.get(pk=self.grant_id)
        # A row written before the platform sealed its table: no entry at all.
        AnnualGrant.objects.bulk_create(
            [AnnualGrant(enterprise=self.other_enterprise, year=2025, cap=grant.cap)]
        )
        self.assertNamed("没有日志条目")
        out = io.StringIO()
        call_command("ledger", "seal-existing", stdout=out)
        self.assertIn("1", out.getvalue())
        self.assertTrue(verify_log().ok)

    def test_it_names_an_edited_seal(self) -> None:
        edit("UPDATE ledger_rowseal SET canon = %s WHERE tbl = 'review_payment'", ["amount=1:0;"])
        result = verify_log()
        self.assertFalse(result.ok)

    def test_a_row_changed_by_an_action_is_checked_against_its_latest_entry(self) -> None:
        claw = Clawback.objects.get(pk=self.claw_id)
        before = list(rows.row_mismatches())
        self.assertEqual(before, [])
        # The latest seal of the clawback holds the written-off state, not the first one.
        self.assertEqual(claw.status, Clawback.Status.WRITTEN_OFF)
        self.assertTrue(verify_log().ok)


class CoverageListTests(ReviewTestCase):
    def test_every_model_holding_money_or_a_decision_is_covered(self) -> None:
        covered = {spec.model._meta.label: set(spec.fields) for spec in rows.covered_tables()}
        missing = []
        for model in apps.get_models():
            label = model._meta.label
            if label in CHECKED_ELSEWHERE:
                continue
            for field in model._meta.concrete_fields:
                money = isinstance(field, models.DecimalField)
                decision = DECISION_NAME.search(field.name) is not None and not field.name.endswith(
                    "_at_issue"
                )
                if f"{label}.{field.name}" in NOT_DECISIONS:
                    continue
                if (money or decision) and field.attname not in covered.get(label, set()):
                    missing.append(f"{label}.{field.name}")
        self.assertEqual(missing, [], "add these to audits/coverage.py and docs/log.md")

    def test_the_documented_list_is_the_registered_one(self) -> None:
        doc = (Path(__file__).resolve().parents[2] / "docs" / "log.md").read_text(encoding="utf-8")
        for spec in rows.covered_tables():
            self.assertIn(f"`{spec.table}`", doc)


class RollbackTests(ReviewTestCase):
    def setUp(self) -> None:
        super().setUp()
        folder = Path(tempfile.mkdtemp(prefix="checkpoint-"))
        self.enterContext(override_settings(LEDGER_CHECKPOINT_PATH=str(folder / "ledger.key.checkpoint")))
        self.file = folder / "ledger.key.checkpoint"
        for n in range(3):
            append_entries([f"e{n}-{k}".encode() for k in range(20)], kind="test")
            with self.captureOnCommitCallbacks(execute=True):
                sign_checkpoint()

    def test_the_latest_checkpoint_is_kept_beside_the_key(self) -> None:
        self.assertTrue(self.file.exists())
        self.assertIn(f"\n{LogState.objects.get().size}\n", self.file.read_text())
        self.assertEqual(self.file.stat().st_mode & 0o777, 0o600)
        self.assertTrue(verify_log().ok)

    def test_deleting_the_newest_checkpoint_fails_verify(self) -> None:
        newest = Checkpoint.objects.order_by("-tree_size").first()
        assert newest is not None
        edit("DELETE FROM ledger_checkpoint WHERE id = %s", [newest.pk])
        result = verify_log()
        self.assertFalse(result.ok)
        self.assertIn("缺失", " ".join(str(p) for p in result.problems))

    def test_a_log_cut_back_to_an_older_checkpoint_fails_verify(self) -> None:
        state = LogState.objects.get()
        older = Checkpoint.objects.order_by("tree_size")[0]
        size = older.tree_size
        edit("DELETE FROM ledger_checkpoint WHERE tree_size > %s", [size])
        edit("DELETE FROM ledger_entry WHERE leaf_index >= %s", [size])
        edit(
            "UPDATE ledger_logstate SET size = %s, root_hash = %s WHERE id = 1",
            [size, bytes(older.root_hash)],
        )
        # The tiles of the removed entries would show; a careful insider rewrites them too.
        from ledger import merkle, tiles

        hasher = merkle.hasher(state.hash_alg)
        with connection.cursor() as cursor:
            cursor.execute("SELECT data FROM ledger_entry ORDER BY leaf_index")
            datas = [bytes(d) for (d,) in cursor.fetchall()]
        built = tiles.append_to_tiles(0, hasher.leaves(datas), {}, hasher)
        edit("DELETE FROM ledger_tile", [])
        for (level, index), blob in built.tiles.items():
            edit(
                "INSERT INTO ledger_tile (key, level, "  # noqa: S608 - a quoted column name
                + connection.ops.quote_name("index")
                + ", hashes) VALUES (%s, %s, %s, %s)",
                [tiles.tile_key(level, index), level, index, blob],
            )
        with override_settings(LEDGER_CHECKPOINT_PATH=""):
            self.assertTrue(verify_log().ok, "without the file the rollback cannot be seen")
        result = verify_log()
        self.assertFalse(result.ok)
        self.assertIn("截断或回滚", " ".join(str(p) for p in result.problems))

    def test_an_export_checkpoint_is_also_a_floor(self) -> None:
        from ledger.export import export_log

        folder = Path(tempfile.mkdtemp(prefix="export-"))
        with self.captureOnCommitCallbacks(execute=True):
            export_log(folder)
        self.assertTrue(verify_log(seen_elsewhere=[str(folder)]).ok)
        size = LogState.objects.get().size
        edit("DELETE FROM ledger_entry WHERE leaf_index = %s", [size - 1])
        edit("UPDATE ledger_logstate SET size = %s WHERE id = 1", [size - 1])
        with override_settings(LEDGER_CHECKPOINT_PATH=""):
            result = verify_log(seen_elsewhere=[str(folder)])
        self.assertFalse(result.ok)
        self.assertIn("截断或回滚", " ".join(str(p) for p in result.problems))
