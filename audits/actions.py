"""Audit actions (核查, docs/audits.md): one function per business event, in the modules of
reconciliation, spot checks, findings and the fraud outcome; re-exported here.

Each runs in one transaction, takes the actor as keyword-only ``actor=``, writes an audit
event (and so a log entry) in that transaction, and sends notifications after commit.

Events about findings are logged against the finding (not the enterprise) until a data
notice is sent, so an enterprise cannot learn from its own log entries that it is under
review; from the notice on, events name the enterprise.
"""

from __future__ import annotations

from audits.findings import decide_finding as decide_finding
from audits.findings import file_objection as file_objection
from audits.findings import record_finding as record_finding
from audits.findings import send_data_notice as send_data_notice
from audits.fraud import blacklist_enterprise as blacklist_enterprise
from audits.fraud import claw_back as claw_back
from audits.fraud import clawback_default as clawback_default
from audits.fraud import lift_blacklist as lift_blacklist
from audits.fraud import record_repayment as record_repayment
from audits.fraud import write_off_clawback as write_off_clawback
from audits.guards import AuditRefused as AuditRefused
from audits.reconciliation import reconcile_many as reconcile_many
from audits.reconciliation import reconcile_quietly as reconcile_quietly
from audits.reconciliation import run_reconciliation as run_reconciliation
from audits.spotchecks import open_spot_check as open_spot_check
