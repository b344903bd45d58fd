"""The tables whose rows decisions and reports read, sealed in the log and checked by verify.

The one list (``docs/log.md`` explains it): each change of a row of these tables appends the
row's digest to the log (``ledger.rows``), and ``yingdu ledger verify`` compares every row
with the latest entry logged for it, naming the table, the row and each field that differs.
Usage rows are checked against their own entries (``monitoring.integrity``).
"""

from __future__ import annotations

from applications.models import AnnualGrant, Application, ConsumptionRow, Offer, UsageLineRow
from audits.models import Clawback, Finding, ReconciliationRun, Repayment, SpotCheck
from ledger.rows import cover
from monitoring.models import ReportedUsageLine
from review.models import Payment, PaymentInstruction, PaymentInstructionItem, ReviewStep

_OF_APPLICATION = "(SELECT a.enterprise_id FROM applications_application a WHERE a.id = t.application_id)"
_OF_CLAWBACK = (
    "(SELECT a.enterprise_id FROM applications_application a JOIN audits_clawback c"
    " ON c.application_id = a.id WHERE c.id = t.clawback_id)"
)


def register() -> None:
    """Cover every table below (``AuditsConfig.ready``)."""
    cover(
        Application,
        [
            "enterprise",
            "provider",
            "status",
            "policy_version",
            "total_compute_cost",
            "requested_amount",
            "granted_amount",
            "approved_at",
            "paid_at",
            "paid_amount",
            "clawed_back_amount",
            "repaid_amount",
            "written_off_amount",
        ],  # fmt: skip
        enterprise_sql="t.enterprise_id",
    )
    cover(
        ConsumptionRow,
        [
            "application",
            "material",
            "row_number",
            "record_id",
            "started_at",
            "ended_at",
            "resource",
            "quantity",
            "minutes",
            "unit_price",
            "amount",
            "scenario",
        ],  # fmt: skip
        enterprise_sql=_OF_APPLICATION,
    )
    cover(
        UsageLineRow,
        [
            "application",
            "material",
            "line_number",
            "kind",
            "vendor",
            "reseller_name",
            "sku",
            "task_id",
            "quantity",
            "unit",
            "output_seconds",
            "unit_price",
            "list_amount",
            "discount",
            "coupon",
            "voucher",
            "pack_units",
            "pack_id",
            "payable",
            "paid",
            "invoice_no",
            "bill_line_id",
            "raw_sha256",
            "source",
            "status",
        ],  # fmt: skip
        enterprise_sql=_OF_APPLICATION,
    )
    cover(
        ReportedUsageLine,
        [
            "provider",
            "line_id",
            "enterprise_uscc",
            "work_ref",
            "kind",
            "vendor",
            "sku",
            "task_id",
            "day",
            "quantity",
            "unit",
            "output_seconds",
            "list_amount",
            "coupon",
            "voucher",
            "pack_units",
            "payable",
            "paid",
            "invoice_no",
            "line_sha256",
        ],  # fmt: skip
    )
    cover(
        Offer,
        [
            "work",
            "status",
            "estimate",
            "base",
            "apply_by",
            "application",
            "decline_reason",
            "created_at",
            "decided_at",
        ],
        enterprise_sql="(SELECT w.enterprise_id FROM applications_work w WHERE w.id = t.work_id)",
    )
    cover(PaymentInstruction, ["number", "budget_line", "total", "created_by", "created_at"])
    cover(
        PaymentInstructionItem,
        ["instruction", "application", "payee", "amount", "payment"],
        enterprise_sql=_OF_APPLICATION,
    )
    cover(
        ReviewStep,
        ["application", "transition", "level", "actor", "at", "opinion", "status_before", "status_after"],
        enterprise_sql=_OF_APPLICATION,
    )
    cover(
        Payment,
        ["application", "date", "amount", "granted_amount", "bank_reference", "recorded_by"],
        enterprise_sql=_OF_APPLICATION,
    )
    cover(AnnualGrant, ["enterprise", "year", "total", "cap"], enterprise_sql="t.enterprise_id")
    cover(
        ReconciliationRun,
        [
            "application",
            "run_at",
            "trigger",
            "actor",
            "checkpoint_tree_size",
            "checkpoint_root",
            "policy_version",
            "tolerance",
            "settlement_amount",
            "flag_count",
            "severity",
            "digest",
        ],  # fmt: skip
        enterprise_sql=_OF_APPLICATION,
    )
    cover(
        SpotCheck,
        [
            "quarter",
            "checkpoint_tree_size",
            "checkpoint_root",
            "seed",
            "policy_version",
            "rate",
            "min_count",
            "n",
            "k",
        ],
    )
    cover(
        Finding,
        [
            "application",
            "source",
            "spot_check",
            "reconciliation_run",
            "description",
            "amount_at_issue",
            "amount_found",
            "status",
            "created_by",
            "decision_reasons",
            "decided_by",
            "decided_at",
        ],  # fmt: skip
        enterprise_sql=_OF_APPLICATION,
    )
    cover(
        Clawback,
        [
            "application",
            "finding",
            "amount",
            "repaid",
            "written_off",
            "written_off_at",
            "written_off_reason",
            "status",
            "reason",
            "created_by",
        ],  # fmt: skip
        enterprise_sql=_OF_APPLICATION,
    )
    cover(
        Repayment,
        ["clawback", "amount", "date", "reference", "recorded_by"],
        enterprise_sql=_OF_CLAWBACK,
    )
