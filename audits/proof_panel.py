"""The enterprise's application page offers the offline proofs (``ledger.proofs``) of its logged
decisions and of the monitored usage records reported for the application."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from accounts.models import User
from applications.models import Application
from audits.models import Finding
from audits.queries import application_keys, key_filter
from ledger import proofs, witnessing
from ledger.labels import action_label
from monitoring.models import UsageRecord

MAX_USAGE_ROWS = 20


def proof_panel(*, application: Application, user: User) -> dict[str, Any] | None:
    findings = [str(pk) for pk in Finding.objects.filter(application=application).values_list("pk", flat=True)]
    decisions = proofs.decision_events(application.enterprise_id).filter(
        Q(object_type=Application._meta.label, object_id=str(application.pk))
        | Q(object_type=Finding._meta.label, object_id__in=findings)
    )
    usage = (
        UsageRecord.objects.filter(key_filter(application_keys(application)))
        .only("leaf_index", "started_at", "ended_at", "gpu_model", "gpu_count")
        .order_by("-ended_at")[:MAX_USAGE_ROWS]
    )
    rows = [{"event": e, "label": action_label(e.action)} for e in decisions[:50]]
    if not rows and not usage:
        return None
    return {
        "template": "ledger/_proofs_panel.html",
        "decisions": rows,
        "usage": list(usage),
        "witnessed_size": witnessing.witnessed_size(),
    }
