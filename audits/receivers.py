"""What audits does when a lower app announces something (registered in ``AuditsConfig.ready``)."""

from __future__ import annotations

from typing import Any

from accounts.models import User
from applications.models import Application
from audits import deadlines, proof_panel
from audits.evidence import evidence_panel
from audits.models import ReconciliationRun
from audits.queries import latest_run
from audits.reconciliation import reconcile_quietly
from core import hooks


def _reconcile(application_id: int, actor: User | None, trigger: str) -> None:
    application = Application.objects.select_related("enterprise").get(pk=application_id)
    reconcile_quietly(application, actor=actor, trigger=trigger)


def reconcile_on_submission(*, application_id: int, actor: User | None) -> None:
    """Reconcile the claim against monitoring right after submission; it never blocks the submission."""
    _reconcile(application_id, actor, ReconciliationRun.Trigger.SUBMISSION)


def reconcile_before_final_approval(*, application_id: int, actor: User | None) -> None:
    """The approver sees a fresh reconciliation against monitoring; it never blocks the review."""
    _reconcile(application_id, actor, ReconciliationRun.Trigger.FINAL_APPROVAL)


def reconciliation_panel(*, application: Application) -> dict[str, Any]:
    """The review page's panel with the latest reconciliation run."""
    return {"template": "audits/_reconciliation_panel.html", "run": latest_run(application)}


def register() -> None:
    hooks.register(hooks.APPLICATION_SUBMITTED, reconcile_on_submission)
    hooks.register(hooks.RE_REVIEW_PASSED, reconcile_before_final_approval)
    hooks.register(hooks.REVIEW_PAGE_PANELS, reconciliation_panel)
    hooks.register(hooks.REVIEW_PAGE_PANELS, evidence_panel)
    hooks.register(hooks.APPLICATION_PAGE_PANELS, evidence_panel)
    hooks.register(hooks.CALENDAR_MOVES, deadlines.calendar_moves)
    hooks.register(hooks.APPLICATION_PAGE_PANELS, proof_panel.proof_panel)
