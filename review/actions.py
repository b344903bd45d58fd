"""Review and disbursement actions (docs/states.md): one function per transition.

Each action runs in one transaction that locks the application row, checks the transition
table (``applications.states.TRANSITIONS``), the actor's role, conflicts of interest and the
separation of duties, writes a ``ReviewStep`` and an audit event, updates the application,
and sends notifications only after the commit. A refused action raises :class:`ReviewError`
and changes nothing; the refusal itself is audited (docs/security.md).

Inside each action the audit event is written before the application row is updated, so a
failure at that last write rolls the ledger entry back with everything else (docs/security.md).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import Promise as StrPromise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from accounts.roles import Role
from applications import checks
from applications.models import Application, Material
from applications.states import TRANSITIONS, Status
from enterprises.models import ConflictOfInterest, Enterprise, Right
from enterprises.permissions import active_delegation, is_legal_representative, record_use, right_refusal
from ledger.actions import record_event
from ledger.models import AuditEvent
from policy.loader import params_at
from policy.queries import kept_total
from policy.rules import calculate_subsidy
from review import notify, rows
from review.clock import DUE_SOON_WORKDAYS, clock_for, local_date
from review.models import (
    AnnualGrant,
    DeadlineReminder,
    Level,
    OnSiteAttachment,
    OnSiteCheck,
    Payment,
    ReviewStep,
    SupplementItem,
    SupplementNotice,
    notices_by_application,
    notices_of,
)
from yingdu import hooks
from yingdu.uploads import CheckedUpload, stored_files

logger = logging.getLogger(__name__)
T = TypeVar("T")


class ReviewError(Exception):
    """A refused review action. ``status`` is the HTTP status a view answers with:
    409 for an illegal state, 403 for role or separation of duties, 400 for invalid input."""

    def __init__(self, message: str, *, status: int = 409, code: str = "illegal_state") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


def _illegal(message: str) -> ReviewError:
    return ReviewError(message, status=409, code="illegal_state")


def _invalid(message: str) -> ReviewError:
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


def _perform(
    name: str,
    application: Application,
    *,
    actor: User,
    request: HttpRequest | None,
    body: Callable[[Application], T],
) -> T:
    """Lock the application, check ``name``, run ``body``; audit and re-raise a refusal after rollback."""
    try:
        with transaction.atomic():
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
            result = body(locked)
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
    # The caller's instance reflects the new state, as if the action had changed it in place.
    for field in Application._meta.concrete_fields:
        setattr(application, field.attname, getattr(locked, field.attname))
    return result


# The box of the source form each passing step fills in.
OPINION_NAMES: dict[str, StrPromise] = {
    "pass_initial": gettext_lazy("初审意见"),
    "pass_re_review": gettext_lazy("复审意见"),
    "approve": gettext_lazy("审批结果"),
}


def _opinion(name: str, opinion: str) -> str:
    text = (opinion or "").strip()
    if name in NEEDS_OPINION and not text:
        if name in OPINION_NAMES:
            raise _invalid(
                _("“%(action)s”须填写%(box)s") % {"action": _label(name), "box": OPINION_NAMES[name]}
            )
        raise _invalid(_("“%(action)s”须填写意见") % {"action": _label(name)})
    if len(text) > 2000:
        raise _invalid(_("意见不超过 2000 字"))
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


def _finish(
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


def _notify_after_commit(app: Application, kind: str, context: dict[str, Any] | None = None) -> None:
    transaction.on_commit(lambda: notify.notify_applicant(app, kind, context or {}), robust=True)


# --- level 1: 初审 -------------------------------------------------------------------------------


def claim_application(
    application: Application, *, actor: User, opinion: str = "", request: HttpRequest | None = None
) -> Application:
    """受理: a reviewer takes a submitted application into initial review. The receipt date is the
    submission day (the clock started when the center received it online)."""

    def body(app: Application) -> Application:
        fields: dict[str, Any] = {}
        if app.received_date is None:
            fields["received_date"] = local_date(app.submitted_at) or timezone.localdate()
        _finish(app, "claim", actor=actor, opinion=_opinion("claim", opinion), request=request, fields=fields)
        return app

    return _perform("claim", application, actor=actor, request=request, body=body)


def take_over_application(
    application: Application, *, actor: User, reason: str, request: HttpRequest | None = None
) -> Application:
    """接手: a reviewer takes over the initial review another reviewer claimed (absence, workload).

    Explicit and audited: the step names the previous holder and carries the reason; from
    then on only the new holder may act at this level, and deadline reminders go to them.
    """

    def body(app: Application) -> Application:
        text = (reason or "").strip()
        if not text:
            raise _invalid(_("接手须填写原因"))
        if len(text) > 2000:
            raise _invalid(_("意见不超过 2000 字"))
        previous = claimant_of(app)
        _finish(
            app,
            TAKE_OVER,
            actor=actor,
            opinion=text,
            request=request,
            data={"previous_holder_id": previous.pk if previous else None},
            after={"previous_holder": str(previous) if previous else ""},
        )
        return app

    return _perform(TAKE_OVER, application, actor=actor, request=request, body=body)


def _checklist_codes() -> dict[str, rows.Item]:
    return {item.item_code: item for item in rows.checklist()}


def request_supplement(
    application: Application,
    *,
    items: Sequence[tuple[str, str]],
    note: str = "",
    actor: User,
    request: HttpRequest | None = None,
) -> SupplementNotice:
    """一次性告知: one notice naming every missing or defective item, each with the reviewer's text.

    ``items`` are ``(item_code, text)`` pairs with codes ``material:<kind>`` or ``row:<field>``.
    A second (or later) notice may name only the items the applicant changed in the latest
    resubmission (docs/states.md); anything else is refused with the list of offending items.
    """

    def body(app: Application) -> SupplementNotice:
        known = _checklist_codes()
        chosen: dict[str, str] = {}
        for code, text in items:
            if code not in known:
                raise _invalid(_("未知的补正事项：%(code)s") % {"code": code})
            requirement = (text or "").strip()
            if not requirement:
                # A ticked item without its requirement tells the applicant nothing to do.
                raise _invalid(_("请填写补正事项“%(item)s”的具体要求") % {"item": known[code].label})
            chosen[code] = requirement
        if not chosen:
            raise _invalid(_("请至少选择一项需要补正的材料或表单项"))
        previous = list(notices_of(app.pk))
        if previous:
            changed = set(previous[-1].changed_items)
            if not changed:
                raise _invalid(_("企业上次补正时没有变更任何事项；一次性告知后不能再次告知补正"))
            outside = [known[c].label for c in chosen if c not in changed]
            if outside:
                raise _invalid(
                    _(
                        "一次性告知：再次告知只能针对企业补正时变更的事项。以下事项在补正中未变更，不能再次告知：%(items)s"
                    )
                    % {"items": "、".join(outside)}
                )
        notice = SupplementNotice.objects.create(
            application=app,
            round=len(previous) + 1,
            note=(note or "").strip(),
            notice_date=timezone.localdate(),
            created_by=actor,
        )
        SupplementItem.objects.bulk_create(
            [
                SupplementItem(
                    notice=notice,
                    kind=known[code].kind,
                    code=known[code].code,
                    label=known[code].label,
                    text=text,
                )
                for code, text in chosen.items()
            ]
        )
        _finish(
            app,
            "request_supplement",
            actor=actor,
            opinion=notice.note,
            request=request,
            data={"notice_id": notice.pk, "round": notice.round, "items": list(chosen)},
            after={"round": notice.round, "items": list(chosen)},
        )
        _notify_after_commit(app, "supplement_notice", {"notice_id": notice.pk})
        return notice

    return _perform("request_supplement", application, actor=actor, request=request, body=body)


def _add_material_version(app: Application, kind: str, upload: CheckedUpload, *, actor: User) -> Material:
    """A new version of a material answering a supplement notice (intake's rules: type, parsing of
    the consumption detail, earlier versions kept). Its refusals become ``ReviewError``s."""
    from applications.actions import ActionRefused, add_material

    try:
        return add_material(app, kind, upload, actor=actor)
    except ActionRefused as exc:
        raise _invalid(exc.message) from exc
    except ValidationError as exc:
        raise _invalid("；".join(exc.messages)) from exc


def _recalculate(app: Application) -> None:
    """Row 25 again after a supplement changed rows 12, 16 or 23 (the submission date's policy)."""
    if app.total_compute_cost is None or app.work_minutes is None:
        return
    day = local_date(app.submitted_at) or timezone.localdate()
    params = params_at(day)
    granted = kept_total(app.enterprise_id, day.year, exclude_application_id=app.pk)
    result = calculate_subsidy(
        total_compute_cost=app.total_compute_cost,
        work_minutes=app.work_minutes,
        overseas=app.overseas,
        granted_this_year=granted,
        params=params,
    )
    app.requested_amount = result.amount
    app.calculation = result.as_dict()
    app.policy_version = result.policy_version


def _row_title(field: str) -> str:
    row = rows.ROW_BY_FIELD.get(field)
    return row.title if row else checks.field_label(field)


def _parsed_rows(row_values: Mapping[str, str]) -> dict[str, Any]:
    """The applicant's new row values, parsed by the intake's own form (one check per value)."""
    from applications.forms import ApplicationForm

    form = ApplicationForm(dict(row_values), fields=list(row_values))
    if not form.is_valid():
        raise _invalid(
            "；".join(
                f"{_row_title(field)}：{m}" for field, messages in form.errors.items() for m in messages
            )
        )
    values = dict(form.cleaned_data)
    if "overseas" in values and values["overseas"] is None:
        values["overseas"] = False
    return values


def resubmit_application(
    application: Application,
    *,
    answers: Mapping[str, str],
    row_values: Mapping[str, str] | None = None,
    files: Mapping[str, Sequence[CheckedUpload]] | None = None,
    note: str = "",
    actor: User,
    request: HttpRequest | None = None,
) -> SupplementNotice:
    """The applicant answers the open supplement notice and resubmits; the clock starts again.

    Only the items the notice names can be answered: new values for named rows, new versions of
    named materials, a text per item. Every item needs a change or a written answer. What
    changed is kept on the notice; a later notice may name only those items.
    """
    row_values = row_values or {}
    files = files or {}

    def body(app: Application) -> SupplementNotice:
        notice = notices_of(app.pk).filter(resubmitted_date__isnull=True).order_by("-round").first()
        if notice is None:
            raise _illegal(_("没有待答复的补正告知"))
        items = list(notice.items.all())
        named = {item.item_code: item for item in items}
        for field in row_values:
            if f"row:{field}" not in named:
                raise _invalid(_("补正告知未列出该表单项，不能修改：%(field)s") % {"field": field})
        for kind in files:
            if f"material:{kind}" not in named:
                raise _invalid(_("补正告知未列出该材料，不能上传：%(kind)s") % {"kind": kind})
        today = timezone.localdate()
        before: dict[str, str] = {}
        after: dict[str, str] = {}
        changed: list[str] = []
        for field, value in _parsed_rows(row_values).items():
            if getattr(app, field) != value:
                before[field] = rows.display_value(app, field)
                setattr(app, field, value)
                after[field] = rows.display_value(app, field)
                changed.append(f"row:{field}")
        if "row:provider_name" in changed:
            app.provider = checks.approved_provider(app.provider_name)
        # The same rules as at submission, on the application as it now stands, under the
        # submission day's policy (the deadline was met then and is not run again).
        problems = checks.row_problems(app, today=local_date(app.submitted_at) or today, check_deadline=False)
        if problems:
            raise _invalid(
                "；".join(f"{_row_title(key)}：{m}" for key, messages in problems.items() for m in messages)
            )
        changed.extend(f"material:{kind}" for kind, uploads in files.items() if uploads)
        unanswered = [
            item.label
            for item in items
            if item.item_code not in changed and not (answers.get(item.item_code) or "").strip()
        ]
        if unanswered:
            raise _invalid(_("以下补正事项既未修改也未说明：%(items)s") % {"items": "、".join(unanswered)})
        uploaded: list[dict[str, Any]] = []
        for kind, uploads in files.items():
            for upload in uploads:
                material = _add_material_version(app, kind, upload, actor=actor)
                uploaded.append({"kind": kind, "version": material.version, "sha256": material.sha256})
        if uploaded:
            from applications.actions import lock_materials

            lock_materials(app)
        for item in items:
            item.answer = (answers.get(item.item_code) or "").strip()
            item.changed = item.item_code in changed
        SupplementItem.objects.bulk_update(items, ["answer", "changed"])
        notice.resubmitted_date = today
        notice.response_note = (note or "").strip()
        notice.changed_items = changed
        notice.save(update_fields=["resubmitted_date", "response_note", "changed_items"])
        fields: dict[str, Any] = {field: getattr(app, field) for field in before}
        if "row:provider_name" in changed:
            fields["provider"] = app.provider
        if set(before) & rows.AMOUNT_FIELDS:
            _recalculate(app)
            fields.update(
                requested_amount=app.requested_amount,
                calculation=app.calculation,
                policy_version=app.policy_version,
            )
        if not is_legal_representative(actor, app.enterprise_id):
            record_use(
                active_delegation(actor, app.enterprise_id),
                Right.ANSWER,
                actor=actor,
                obj=app,
                request=request,
            )
        _finish(
            app,
            "resubmit",
            actor=actor,
            opinion=notice.response_note,
            request=request,
            data={"notice_id": notice.pk, "round": notice.round, "changed": changed, "uploaded": uploaded},
            after={"round": notice.round, "changed": changed, "rows_before": before, "rows_after": after},
            fields=fields,
        )
        reviewer = notice.created_by
        transaction.on_commit(lambda: notify.notify_resubmitted(app, reviewer), robust=True)
        return notice

    return _perform("resubmit", application, actor=actor, request=request, body=body)


def pass_initial_review(
    application: Application, *, actor: User, opinion: str = "", request: HttpRequest | None = None
) -> Application:
    """初审通过: to re-review (复审)."""

    def body(app: Application) -> Application:
        _finish(app, "pass_initial", actor=actor, opinion=_opinion("pass_initial", opinion), request=request)
        return app

    return _perform("pass_initial", application, actor=actor, request=request, body=body)


def reject_application(
    application: Application,
    *,
    actor: User,
    opinion: str,
    transition: str | None = None,
    request: HttpRequest | None = None,
) -> Application:
    """不通过, at initial review (``reject_initial``) or final approval (``reject_final``).

    Without ``transition`` the one matching the current state is taken. The filing number is
    freed (a rejected application holds none), and the applicant is told with the opinion.
    """
    name = transition or ("reject_final" if application.status == Status.FINAL_APPROVAL else "reject_initial")
    if name not in ("reject_initial", "reject_final"):
        raise ValueError(name)

    def body(app: Application) -> Application:
        text = _opinion(name, opinion)
        _finish(app, name, actor=actor, opinion=text, request=request)
        _notify_after_commit(app, "rejection", {"opinion": text})
        return app

    return _perform(name, application, actor=actor, request=request, body=body)


def pass_re_review(
    application: Application, *, actor: User, opinion: str = "", request: HttpRequest | None = None
) -> Application:
    """复审通过: to final approval (最终审批)."""

    def body(app: Application) -> Application:
        _finish(
            app, "pass_re_review", actor=actor, opinion=_opinion("pass_re_review", opinion), request=request
        )
        # The approver sees a fresh reconciliation against monitoring (docs/audits.md); it never blocks.
        hooks.announce(hooks.RE_REVIEW_PASSED, application_id=app.pk, actor=actor)
        return app

    return _perform("pass_re_review", application, actor=actor, request=request, body=body)


def return_application(
    application: Application,
    *,
    actor: User,
    opinion: str,
    transition: str | None = None,
    request: HttpRequest | None = None,
) -> Application:
    """退回: re-review back to initial review (``return_to_initial``), or final approval back to
    re-review (``return_to_re_review``); the opinion says why."""
    name = transition or (
        "return_to_re_review" if application.status == Status.FINAL_APPROVAL else "return_to_initial"
    )
    if name not in ("return_to_initial", "return_to_re_review"):
        raise ValueError(name)

    def body(app: Application) -> Application:
        _finish(app, name, actor=actor, opinion=_opinion(name, opinion), request=request)
        return app

    return _perform(name, application, actor=actor, request=request, body=body)


# --- level 3: 审批 and the annual cap -----------------------------------------------------------


def _add_to_annual_grant(
    enterprise: Enterprise, year: int, amount: Decimal, cap: Decimal, granted: Decimal
) -> Decimal:
    """Add ``amount`` to the enterprise's running total for ``year``; the row's check constraint
    (total <= cap) refuses anything past the cap even if a caller forgot the enterprise lock."""
    grant, _created = AnnualGrant.objects.get_or_create(
        enterprise=enterprise, year=year, defaults={"total": granted, "cap": cap}
    )
    try:
        with transaction.atomic():
            # F(): the database adds to the committed total, never to a stale value read here.
            AnnualGrant.objects.filter(pk=grant.pk).update(total=F("total") + amount, cap=cap)
    except IntegrityError as exc:
        raise _illegal(_("超出企业年度补助上限 %(cap)s 元，不能批准") % {"cap": f"{cap:,.2f}"}) from exc
    grant.refresh_from_db(fields=["total"])
    return grant.total


def approve_application(
    application: Application, *, actor: User, opinion: str = "", request: HttpRequest | None = None
) -> Application:
    """审批通过: fixes the granted amount under the annual cap (三（三）, docs/subsidy.md).

    The enterprise's row is locked for the rest of the transaction, so concurrent approvals of
    one enterprise run one after another and each sees the totals the others committed. The
    amount is the rule's amount with the quota left now; one that would be 0 is refused.
    """

    def body(app: Application) -> Application:
        enterprise = Enterprise.objects.select_for_update().get(pk=app.enterprise_id)
        if enterprise.blacklisted:
            raise _illegal(_("企业已列入黑名单，不能批准"))
        if app.total_compute_cost is None or app.work_minutes is None or app.submitted_at is None:
            raise _illegal(_("申请缺少算力成本或作品时长，无法核定补贴金额"))
        day = local_date(app.submitted_at)
        assert day is not None
        params = params_at(day)
        granted = kept_total(enterprise.pk, day.year, exclude_application_id=app.pk)
        result = calculate_subsidy(
            total_compute_cost=app.total_compute_cost,
            work_minutes=app.work_minutes,
            overseas=app.overseas,
            granted_this_year=granted,
            params=params,
        )
        if result.amount <= 0:
            raise _illegal(
                _("该企业%(year)d年度补助额度（上限 %(cap)s 元）已用完，不能批准；请作“审批不通过”处理")
                % {"year": day.year, "cap": f"{params.annual_cap:,.2f}"}
            )
        total = _add_to_annual_grant(enterprise, day.year, result.amount, params.annual_cap, granted)
        text = _opinion("approve", opinion)
        _finish(
            app,
            "approve",
            actor=actor,
            opinion=text,
            request=request,
            data={"calculation": result.as_dict()},
            after={
                "granted_amount": f"{result.amount:.2f}",
                "binding": result.binding,
                "annual_total": f"{total:.2f}",
                "policy_version": result.policy_version,
            },
            fields={"granted_amount": result.amount, "approved_at": timezone.now()},
        )
        _notify_after_commit(app, "approval", {"amount": result.amount, "binding": result.binding_label})
        return app

    return _perform("approve", application, actor=actor, request=request, body=body)


def release_annual_grant(application: Application, amount: Decimal | None = None) -> None:
    """Take a clawed-back ``amount`` (the whole award when not given) out of the enterprise's
    annual total: the total is what the enterprise keeps. Called by the clawback action, in its
    transaction, with the enterprise row locked."""
    if application.granted_amount is None or application.submitted_at is None:
        return
    day = local_date(application.submitted_at)
    assert day is not None
    released = application.granted_amount if amount is None else amount
    AnnualGrant.objects.filter(enterprise_id=application.enterprise_id, year=day.year).update(
        total=F("total") - released
    )


# --- 兑现 -------------------------------------------------------------------------------------


def record_payment(
    application: Application,
    *,
    date: dt.date,
    amount: Decimal,
    bank_reference: str,
    actor: User,
    request: HttpRequest | None = None,
) -> Payment:
    """兑现: finance records the disbursement. The amount must equal the granted amount (docs/states.md)."""

    def body(app: Application) -> Payment:
        granted = app.granted_amount
        if granted is None:
            raise _illegal(_("申请尚未核定补贴金额"))
        if amount != granted:
            raise _invalid(
                _("兑现金额 %(amount)s 元与核定补贴金额 %(granted)s 元不一致，不能登记")
                % {"amount": f"{amount:,.2f}", "granted": f"{granted:,.2f}"}
            )
        reference = (bank_reference or "").strip()
        if not reference:
            raise _invalid(_("请填写银行流水号"))
        approved = local_date(app.approved_at)
        if date > timezone.localdate():
            raise _invalid(_("兑现日期不能晚于今天"))
        if approved is not None and date < approved:
            raise _invalid(_("兑现日期不能早于审批日期 %(day)s") % {"day": approved.isoformat()})
        payment = Payment.objects.create(
            application=app,
            date=date,
            amount=amount,
            granted_amount=granted,
            bank_reference=reference,
            recorded_by=actor,
        )
        _finish(
            app,
            "pay",
            actor=actor,
            opinion="",
            request=request,
            data={"payment_id": payment.pk},
            after={"amount": f"{amount:.2f}", "date": date.isoformat(), "bank_reference": reference},
            fields={"paid_at": timezone.now(), "paid_amount": amount},
        )
        _notify_after_commit(app, "payment", {"amount": amount, "date": date})
        return payment

    return _perform("pay", application, actor=actor, request=request, body=body)


# --- 实地核查 --------------------------------------------------------------------------------


def record_on_site_check(
    application: Application,
    *,
    date: dt.date,
    people: str,
    findings: str,
    attachments: Iterable[CheckedUpload] = (),
    actor: User,
    request: HttpRequest | None = None,
) -> OnSiteCheck:
    """实地核查 during initial review: date, people, findings and files. The clock keeps running."""

    def body(app: Application) -> OnSiteCheck:
        if date > timezone.localdate():
            raise _invalid(_("核查日期不能晚于今天"))
        if not people.strip() or not findings.strip():
            raise _invalid(_("请填写核查人员和核查情况"))
        check = OnSiteCheck.objects.create(
            application=app, date=date, people=people.strip(), findings=findings.strip(), recorded_by=actor
        )
        stored = []
        for upload in attachments:
            path = files.save("site_checks", upload)
            OnSiteAttachment.objects.create(
                check_record=check,
                file=path,
                original_name=upload.original_name,
                mime=upload.mime,
                size=len(upload.content),
                sha256=upload.sha256,
            )
            stored.append({"name": upload.original_name, "sha256": upload.sha256})
        _finish(
            app,
            ON_SITE_CHECK,
            actor=actor,
            opinion=check.findings,
            request=request,
            data={"check_id": check.pk},
            after={"date": date.isoformat(), "people": check.people, "attachments": stored},
        )
        return check

    with stored_files() as files:  # a refused check leaves no attachment behind
        return _perform(ON_SITE_CHECK, application, actor=actor, request=request, body=body)


# The action of each transition this app owns (submit/withdraw belong to intake, clawback to audits).
ACTIONS: dict[str, Callable[..., Any]] = {
    "claim": claim_application,
    "request_supplement": request_supplement,
    "resubmit": resubmit_application,
    "pass_initial": pass_initial_review,
    "reject_initial": reject_application,
    "pass_re_review": pass_re_review,
    "return_to_initial": return_application,
    "return_to_re_review": return_application,
    "approve": approve_application,
    "reject_final": reject_application,
    "pay": record_payment,
}


# --- staff reminders ----------------------------------------------------------------------------

# Who acts next in each state.
NEXT_ROLE = {
    Status.SUBMITTED: Role.REVIEWER,
    Status.INITIAL_REVIEW: Role.REVIEWER,
    Status.RE_REVIEW: Role.HEAD,
    Status.FINAL_APPROVAL: Role.APPROVER,
    Status.APPROVED: Role.FINANCE,
}


def send_deadline_reminders(today: dt.date | None = None) -> int:
    """E-mail each staff member who acts next on items due within 2 working days or overdue.

    Idempotent per day: a reminder about one application to one person is sent once a day
    (``DeadlineReminder``). Returns the number of e-mails queued.
    """
    today = today or timezone.localdate()
    from policy.calendar import get_state

    state = get_state()
    apps = list(Application.objects.filter(status__in=list(NEXT_ROLE)).select_related("enterprise"))
    notices = notices_by_application([a.pk for a in apps])
    holders = claimants(a.pk for a in apps)
    staff = {
        role: list(User.objects.filter(groups__name=role, is_active=True).exclude(email=""))
        for role in set(NEXT_ROLE.values())
    }
    conflicts = set(ConflictOfInterest.objects.values_list("user_id", "enterprise_id"))
    digest: dict[int, list[tuple[Application, Any]]] = {}
    users: dict[int, User] = {}
    with transaction.atomic():
        for app in apps:
            clock = clock_for(app, notices[app.pk], today=today, state=state)
            if clock.next_left is None or clock.paused:
                continue
            if clock.next_left > DUE_SOON_WORKDAYS:
                continue
            role = NEXT_ROLE[Status(app.status)]
            recipients = staff[role]
            if Status(app.status) == Status.INITIAL_REVIEW:
                holder = holders.get(app.pk)
                recipients = [u for u in recipients if holder is not None and u.pk == holder.pk] or recipients
            for user in recipients:
                if (user.pk, app.enterprise_id) in conflicts:
                    continue
                _reminder, created = DeadlineReminder.objects.get_or_create(
                    application=app, user=user, day=today, defaults={"due": clock.next_due or today}
                )
                if created:
                    digest.setdefault(user.pk, []).append((app, clock))
                    users[user.pk] = user
        if digest:
            record_event(
                "review.deadline_reminders",
                actor=None,
                after={
                    "day": today.isoformat(),
                    "recipients": len(digest),
                    "items": sum(map(len, digest.values())),
                },
            )
            for user_id, entries in digest.items():
                transaction.on_commit(_remind_after_commit(users[user_id], entries, today), robust=True)
    return len(digest)


def _remind_after_commit(
    user: User, entries: list[tuple[Application, Any]], today: dt.date
) -> Callable[[], None]:
    # A closure, not functools.partial: Django names the callback when it logs a failure.
    def remind() -> None:
        notify.remind_staff(user, entries, today)

    return remind


__all__ = [
    "ACTIONS",
    "ReviewError",
    "approve_application",
    "available_transitions",
    "check_transition",
    "claim_application",
    "take_over_application",
    "pass_initial_review",
    "pass_re_review",
    "record_on_site_check",
    "record_payment",
    "reject_application",
    "release_annual_grant",
    "request_supplement",
    "resubmit_application",
    "return_application",
    "send_deadline_reminders",
]


def mark_notifications_read(user: User, ids: list[int] | None = None, *, actor: User) -> int:
    """Mark the user's unread inbox messages read: the given ones, or all. Only the owner may.

    Reading one's own messages changes nothing anyone else relies on, so it is not an audit event.
    """
    from review.models import Notification

    if actor.pk != user.pk:
        raise PermissionError("only the recipient marks a message read")
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=ids)
    return unread.update(read_at=timezone.now())
