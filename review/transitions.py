"""Review transitions (docs/states.md): who may take which step now, and the common frame of every
review action (:func:`performing`): lock the application, check the transition, write the step and
the audit event.

A refused action raises :class:`ReviewError` and changes nothing; the refusal itself is audited
(docs/security.md)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import Promise as StrPromise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from accounts.roles import Role
from applications.models import Application
from applications.states import ENDS_CASE, TRANSITIONS, Status
from core import hooks
from core.refusals import Problems, Refused
from core.transactions import batch, durable
from enterprises.models import ConflictOfInterest, Right
from enterprises.permissions import right_refusal
from ledger.actions import record_event
from ledger.models import AuditEvent
from review import notify
from review.models import Level, ReviewStep


class ReviewError(Refused):
    """A refused review action. ``status`` is the HTTP status a view answers with:
    409 for an illegal state, 403 for role or separation of duties, 400 for invalid input."""

    status = 409
    code = "illegal_state"


def illegal_transition(message: str) -> ReviewError:
    return ReviewError(message, status=409, code="illegal_state")


def invalid_input(message: str | Problems) -> ReviewError:
    return ReviewError(message, status=400, code="invalid")


# The review level of each transition (and of the on-site check). Three levels, three people.
LEVELS: dict[str, int] = {
    "claim": Level.INITIAL,
    "request_supplement": Level.INITIAL,
    "pass_initial": Level.INITIAL,
    "reject_initial": Level.INITIAL,
    "on_site_check": Level.INITIAL,
    "take_over": Level.INITIAL,
    "pass_re_review": Level.RE_REVIEW,
    "return_to_initial": Level.RE_REVIEW,
    "approve": Level.FINAL,
    "reject_final": Level.FINAL,
    "return_to_re_review": Level.FINAL,
}
# The right from the legal representative each applicant transition needs (enterprises.permissions).
APPLICANT_RIGHTS: dict[str, str] = {
    "submit": Right.SUBMIT,
    "withdraw": Right.SUBMIT,
    "resubmit": Right.ANSWER,
}
# Transitions that must carry a written opinion: the source form asks for 初审意见, 复审意见 and
# 审批结果, and a refusal or a return must say why.
NEEDS_OPINION = frozenset(
    {
        "pass_initial",
        "reject_initial",
        "pass_re_review",
        "return_to_initial",
        "approve",
        "reject_final",
        "return_to_re_review",
    }
)
# The on-site check is recorded during initial review by a reviewer; it changes no state.
ON_SITE_CHECK = "on_site_check"
ON_SITE_STATES = frozenset({Status.INITIAL_REVIEW})
# A claim (受理) reserves the initial review for the reviewer who claimed it; another reviewer
# acts on it only after taking it over, which is a step of its own, audited, with a reason.
# It changes no state either.
TAKE_OVER = "take_over"
CLAIM_STEPS = ("claim", TAKE_OVER)
TAKE_OVER_STATES = frozenset({Status.INITIAL_REVIEW, Status.SUPPLEMENT_REQUESTED})
RESERVED = frozenset(
    name for name, level in LEVELS.items() if level == Level.INITIAL and name not in CLAIM_STEPS
)


@dataclass(frozen=True)
class Refusal:
    message: str
    status: int


def transition_label(name: str) -> str:
    """The Chinese name of a transition, of the on-site check or of a take-over."""
    if name == ON_SITE_CHECK:
        return _("实地核查")
    if name == TAKE_OVER:
        return _("接手初审")
    return TRANSITIONS[name].label


_label = transition_label


def _role_of(name: str) -> str:
    return Role.REVIEWER if name in (ON_SITE_CHECK, TAKE_OVER) else TRANSITIONS[name].role


def claimants(application_ids: Iterable[int]) -> dict[int, User]:
    """The reviewer holding each application's initial review: whoever claimed it or took it over last."""
    holders: dict[int, User] = {}
    steps = (
        ReviewStep.objects.filter(application_id__in=list(application_ids), transition__in=CLAIM_STEPS)
        .select_related("actor")
        .order_by("at", "id")
    )
    for step in steps:
        holders[step.application_id] = step.actor
    return holders


def claimant_of(application: Application) -> User | None:
    return claimants([application.pk]).get(application.pk)


def check_transition(application: Application, name: str, actor: User) -> Refusal | None:
    """Why ``actor`` may not take transition ``name`` on ``application`` now; ``None`` when they may.

    Order: role (403), ownership/conflict (403), state (409), separation of duties (403).
    """
    role = _role_of(name)
    label = _label(name)
    if not actor.has_role(role):
        return Refusal(
            _("您没有“%(role)s”角色，不能执行“%(action)s”") % {"role": Role(role).label, "action": label}, 403
        )
    if role == Role.APPLICANT:
        if actor.enterprise_id != application.enterprise_id:
            return Refusal(_("只有申报企业的经办人可以执行“%(action)s”") % {"action": label}, 403)
        refused = right_refusal(actor, application.enterprise_id, APPLICANT_RIGHTS[name])
        if refused is not None:
            return Refusal(refused, 403)
    elif ConflictOfInterest.objects.filter(user=actor, enterprise_id=application.enterprise_id).exists():
        return Refusal(_("您已申报与该企业存在利益冲突，须回避，不能办理其申请"), 403)
    if name == ON_SITE_CHECK:
        sources = ON_SITE_STATES
    elif name == TAKE_OVER:
        sources = TAKE_OVER_STATES
    else:
        sources = TRANSITIONS[name].sources
    if Status(application.status) not in sources:
        return Refusal(
            _("申请当前状态为“%(status)s”，不能执行“%(action)s”")
            % {"status": Status(application.status).label, "action": label},
            409,
        )
    level = LEVELS.get(name, Level.NONE)
    if role != Role.APPLICANT:
        # Levels 1–3 are three different people; the payer is none of them (maker-checker).
        other_levels = {Level.INITIAL, Level.RE_REVIEW, Level.FINAL} - {level}
        done = (
            ReviewStep.objects.filter(application=application, actor=actor, level__in=other_levels)
            .values_list("level", flat=True)
            .first()
        )
        if done is not None:
            return Refusal(
                _(
                    "同一申请的初审、复审、审批须由三名不同人员完成，付款登记人也不能是审核人员；您已在本申请中办理过“%(level)s”"
                )
                % {"level": Level(done).label},
                403,
            )
    if name in RESERVED or name == TAKE_OVER:
        holder = claimant_of(application)
        if name == TAKE_OVER and (holder is None or holder.pk == actor.pk):
            return Refusal(
                _("您已是本申请的受理人，无需接手") if holder else _("本申请尚未受理，无需接手"), 409
            )
        if name in RESERVED and holder is not None and holder.pk != actor.pk:
            return Refusal(
                _(
                    "本申请已由“%(holder)s”受理，其他审核人员须先接手（接手将记入审计日志）才能办理“%(action)s”"
                )
                % {"holder": holder, "action": label},
                403,
            )
    return None


def available_transitions(application: Application, actor: User) -> list[str]:
    """The transitions (and ``on_site_check``) ``actor`` may take now, for the buttons of the review page."""
    names = [*TRANSITIONS, ON_SITE_CHECK, TAKE_OVER]
    return [
        n
        for n in names
        if n not in ("submit", "withdraw", "clawback", "partial_clawback")
        and check_transition(application, n, actor) is None
    ]


@contextmanager
def performing(
    name: str, application: Application, *, actor: User, request: HttpRequest | None, composed: bool = False
) -> Iterator[Application]:
    """The frame of one review action, read top to bottom where it is used::

        with performing("pass_initial", application, actor=actor, request=request) as app:
            finish(app, "pass_initial", actor=actor, opinion=text, request=request)
        return app

    One durable transaction (``core.transactions``; a batch when the action is ``composed`` of other
    actions) that locks the application and checks ``name``; the block receives the locked row. A refusal (:class:`ReviewError`, from the
    check or from the block) rolls everything back, is audited outside the rolled-back transaction
    and is raised again. After the commit the caller's ``application`` reflects the new state, as if
    the action had changed it in place."""
    try:
        with batch() if composed else durable():
            # of=("self",): lock the application only; approval locks the enterprise itself.
            locked = (
                Application.objects.select_for_update(of=("self",))
                .select_related("enterprise")
                .get(pk=application.pk)
            )
            refusal = check_transition(locked, name, actor)
            if refusal is not None:
                raise ReviewError(
                    refusal.message,
                    status=refusal.status,
                    code="forbidden" if refusal.status == 403 else "illegal_state",
                )
            status_before = locked.status
            yield locked
            if locked.status != status_before and Status(locked.status) in ENDS_CASE:
                # After the action's own notices (the rejection, the payment): review asks for a rating.
                hooks.announce(hooks.APPLICATION_ENDED, application_id=locked.pk, actor=actor)
    except ReviewError as exc:
        # The attempt is audited outside the rolled-back transaction (docs/security.md, #20).
        record_event(
            f"application.{name}",
            actor=actor,
            obj=application,
            before={"status": application.status},
            after={"error": exc.message, "http_status": exc.status},
            result=AuditEvent.Result.FAILURE,
            request=request,
        )
        raise
    for field in Application._meta.concrete_fields:
        setattr(application, field.attname, getattr(locked, field.attname))


# The box of the source form each passing step fills in.
OPINION_NAMES: dict[str, StrPromise] = {
    "pass_initial": gettext_lazy("初审意见"),
    "pass_re_review": gettext_lazy("复审意见"),
    "approve": gettext_lazy("审批结果"),
}


def checked_opinion(name: str, opinion: str) -> str:
    text = (opinion or "").strip()
    if name in NEEDS_OPINION and not text:
        if name in OPINION_NAMES:
            raise invalid_input(
                _("“%(action)s”须填写%(box)s") % {"action": _label(name), "box": OPINION_NAMES[name]}
            )
        raise invalid_input(_("“%(action)s”须填写意见") % {"action": _label(name)})
    if len(text) > 2000:
        raise invalid_input(_("意见不超过 2000 字"))
    return text


def record_step(
    app: Application,
    transition: str,
    *,
    actor: User,
    opinion: str,
    status_before: str,
    data: dict[str, Any] | None = None,
) -> ReviewStep:
    """Write one step of the application's review history (its timeline), for a transition another
    app's action made in its own transaction (a clawback from audits)."""
    return ReviewStep.objects.create(
        application=app,
        transition=transition,
        level=LEVELS.get(transition, Level.NONE),
        actor=actor,
        at=timezone.now(),
        opinion=opinion,
        status_before=status_before,
        status_after=app.status,
        data=data or {},
    )


def finish(
    app: Application,
    name: str,
    *,
    actor: User,
    opinion: str,
    request: HttpRequest | None,
    data: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    fields: Mapping[str, Any] | None = None,
) -> ReviewStep:
    """Write the step and the audit event, then update the application (last, see module doc)."""
    before_status = app.status
    target = TRANSITIONS[name].target if name in TRANSITIONS else Status(app.status)
    now = timezone.now()
    step = ReviewStep.objects.create(
        application=app,
        transition=name,
        level=LEVELS.get(name, Level.NONE),
        actor=actor,
        at=now,
        opinion=opinion,
        status_before=before_status,
        status_after=target,
        data=data or {},
    )
    record_event(
        f"application.{name}",
        actor=actor,
        obj=app,
        before={"status": before_status},
        after={"status": str(target), "opinion": opinion, "step_id": step.pk, **(after or {})},
        request=request,
    )
    updates = dict(fields or {})
    if target != before_status:
        updates["status"] = target
    if updates:
        for key, value in updates.items():
            setattr(app, key, value)
        app.save(update_fields=[*updates, "updated_at"])
    return step


def notify_after_commit(app: Application, kind: str, context: dict[str, Any] | None = None) -> None:
    transaction.on_commit(lambda: notify.notify_applicant(app, kind, context or {}), robust=True)
