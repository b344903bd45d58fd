"""Spot checks (docs/audits.md): a reproducible random sample of the granted applications of a
period, each reconciled again."""

from __future__ import annotations

from django.http import HttpRequest

from accounts.models import User
from accounts.roles import Role
from applications.models import Application
from audits import quarters
from audits.guards import require
from audits.models import ReconciliationRun, SpotCheck
from audits.reconciliation import reconcile_many
from audits.sampling import SampleUnavailable, compute_sample  # noqa: F401 - SampleUnavailable is raised through here
from core.transactions import durable
from ledger.actions import record_event


def open_spot_check(
    quarter: quarters.Quarter | str, *, actor: User, request: HttpRequest | None = None
) -> SpotCheck:
    """Open the quarter's spot check (每季度随机抽查): draw and store the sample, and reconcile each
    sampled application. Idempotent: a quarter already drawn returns its stored spot check."""
    require(actor, Role.INSPECTOR, action="audit.spot_check", request=request)
    q = quarters.Quarter.parse(str(quarter))
    existing = SpotCheck.objects.filter(quarter=str(q)).first()
    if existing is not None:
        return existing
    sample, checkpoint, params = compute_sample(q)
    with durable():
        spot = SpotCheck.objects.create(
            quarter=str(q),
            checkpoint_tree_size=checkpoint.tree_size,
            checkpoint_root=bytes(checkpoint.root_hash).hex(),
            checkpoint_note=checkpoint.note,
            checkpoint_signed_at=checkpoint.created_at,
            seed=sample.seed.hex(),
            policy_version=params.version,
            rate=params.audit_sample_rate,
            min_count=params.audit_sample_min_count,
            n=sample.n,
            k=sample.k,
            candidate_ids=[app_id for app_id, _key in sample.ordered],
            sample_ids=sample.sample_ids,
            created_by=actor,
        )
        record_event(
            "audit.spot_check",
            actor=actor,
            obj=spot,
            after={
                "quarter": spot.quarter,
                "seed": spot.seed,
                "checkpoint_tree_size": spot.checkpoint_tree_size,
                "checkpoint_root": spot.checkpoint_root,
                "n": spot.n,
                "k": spot.k,
                "sample": spot.sample_ids,
            },
            request=request,
        )
        sampled = Application.objects.filter(pk__in=spot.sample_ids).select_related("enterprise")
        if sampled:
            reconcile_many(sampled, actor=actor, trigger=ReconciliationRun.Trigger.SPOT_CHECK)
    return spot
