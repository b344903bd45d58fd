"""Offline proofs (C2SP tlog-proof) of single entries: a usage record's receipt, a decision.

A proof holds the entry itself (``extra``), its index, the inclusion proof and the smallest
*witnessed* checkpoint that covers it, with the witnesses' cosignature lines. Anyone can check
it with ``yingdu-witness verify-proof FILE --log-key KEY --policy POLICY`` and no network: the
log's signature, the quorum of cosignatures and the inclusion proof (``witness.proofs``).
An entry not yet covered by a witnessed checkpoint has no proof yet.
"""

from __future__ import annotations

from django.db.models import QuerySet

from ledger import services, witnessing
from ledger.models import AuditEvent
from witness.proofs import format_proof

# The decisions that reach an enterprise: approval and rejection, payment, clawback, a finding's decision.
DECISION_ACTIONS = (
    "application.approve",
    "application.reject_initial",
    "application.reject_final",
    "application.pay",
    "application.clawback",
    "application.partial_clawback",
    "audit.finding.decide",
)


def tlog_proof(index: int) -> str | None:
    """The tlog-proof of entry ``index``, or ``None`` while no witnessed checkpoint covers it."""
    checkpoint = witnessing.witnessed_covering(index)
    if checkpoint is None:
        return None
    proof = services.inclusion_proof(index, checkpoint.tree_size)
    return format_proof(index, proof, witnessing.witnessed_note(checkpoint), extra=services.entry(index))


def filename(index: int) -> str:
    return f"yingdu-ledger-{index}.tlog-proof"


def decision_events(enterprise_id: int) -> QuerySet[AuditEvent]:
    """The logged decisions that reached the enterprise, newest first."""
    return AuditEvent.objects.filter(
        enterprise_id_ref=enterprise_id,
        action__in=DECISION_ACTIONS,
        result=AuditEvent.Result.SUCCESS,
        leaf_index__isnull=False,
    ).order_by("-id")
