"""State changes of an application (申报): each is one transaction with an audit event.

- :func:`create_draft` — a verified enterprise's user starts an application, rows 1–9 prefilled;
- :func:`update_draft` — the applicant saves rows of the draft (any step, any subset);
- :func:`add_material` / :func:`remove_draft_material` — files, checked and stored by generated
  name; a consumption detail is parsed on the way in;
- :func:`submit_application` — every check of docs/form.md, then the reference, the receipt date, the
  amount under the policy in force on that day, and the materials locked;
- :func:`withdraw_application` — the applicant withdraws a draft or a submitted application, giving
  a reason;
- :func:`delete_draft` — the applicant deletes a draft never submitted, with its files.

Notifications leave after the commit (``transaction.on_commit``) so a rolled-back action never
tells anyone anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Max, ProtectedError
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import Role
from applications import checks
from applications.consumption import ParseResult
from applications.consumption import RowError as ConsumptionRowError
from applications.consumption_file import parse_consumption
from applications.forms import EDITABLE_FIELDS
from applications.models import Application, ConsumptionRow, Material, MaterialKind, UsageLineRow
from applications.states import TRANSITIONS, Status, allowed
from applications.subsidy import subsidy_for
from applications.usage_store import save_lines
from applications.vendor_formats import parse_file
from applications.vendor_formats.base import FileResult
from core import hooks
from core.filetypes import DOCUMENT_TYPES, TABLE_TYPES, USAGE_TYPES
from core.lib.money import format_money
from core.refusals import Refused
from core.transactions import durable
from core.uploads import CheckedUpload, stored_files
from enterprises.actions import ENTERPRISE_FIELDS
from enterprises.models import Delegation, Enterprise, Right, verified_licence
from enterprises.permissions import RightRefused, record_use, require_right
from ledger.actions import record_event
from ledger.rows import seal

# Rows 1–9 are the enterprise's own record (enterprises.actions.ENTERPRISE_FIELDS), copied into a
# new application; only the enterprise's name is stored under another field name.
PREFILLED_FROM_ENTERPRISE = {("enterprise_name" if name == "name" else name): name for name in ENTERPRISE_FIELDS}


class ActionRefused(Refused):
    """The action is not possible in the application's state; the message is Chinese."""

    status = 409
    code = "illegal_state"


class SubmissionRefused(Refused, ValidationError):  # type: ignore[misc]  # ``message`` is a str on both
    """Submission refused with the full list of what is still wrong, keyed by field."""

    status = 422
    code = "incomplete"

    def __init__(self, problems: dict[str, list[str]]) -> None:
        ValidationError.__init__(
            self, {key: [ValidationError(m) for m in messages] for key, messages in problems.items()}
        )
        self._refuse(problems, status=None, code=None)


class ConsumptionDetailRejected(ValidationError):
    """A consumption detail with row errors; ``result.errors`` has them by row number."""

    def __init__(self, result: ParseResult, name: str) -> None:
        super().__init__(result.summary(), code="consumption_rows")
        self.result = result
        self.file_name = name


class UsageDetailRejected(ConsumptionDetailRejected):
    """A usage file (the platform template, or a vendor export without one good line) refused with
    every rejected line, by line number."""

    def __init__(self, result: FileResult) -> None:
        parsed = ParseResult(errors=[ConsumptionRowError(r.line, "", r.reason) for r in result.rejections])
        super().__init__(parsed, result.file_name)
        self.usage = result


def usage_detail(kind: str, upload: CheckedUpload) -> FileResult | None:
    """A consumption detail in the usage-line template or a vendor export, read into lines; ``None``
    for other materials and for the earlier GPU-only template (read by ``parse_consumption``)."""
    if kind != MaterialKind.CONSUMPTION_DETAIL or upload.mime not in USAGE_TYPES:
        return None
    result = parse_file(upload.original_name, upload.content, now=timezone.now())
    if result.gpu_layout:
        return None
    if result.format == "template" and result.rejections:
        result.lines = []  # the applicant's own table is corrected and uploaded again
    return result


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format_money(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def require_applicant(
    application: Application, actor: User, right: str, request: HttpRequest | None = None
) -> Delegation | None:
    """Only a user of the application's own enterprise acts on it as applicant, and only with
    the right from the legal representative (``enterprises.permissions``); a refusal names why."""
    if not actor.has_role(Role.APPLICANT) or actor.enterprise_id != application.enterprise_id:
        raise PermissionDenied
    try:
        return require_right(actor, application.enterprise_id, right, obj=application, request=request)
    except RightRefused as exc:
        raise ActionRefused(exc.message) from exc


# Row 26: only the legal representative or a handler with the signing right signs the declaration.
SIGNING_FIELDS = ("declaration_accepted", "signer_name")
_UNSIGNED: dict[str, Any] = {"declaration_accepted": False, "signer_name": ""}


def _locked(application: Application) -> Application:
    return Application.objects.select_for_update().select_related("enterprise").get(pk=application.pk)


def create_draft(*, actor: User, request: HttpRequest | None = None) -> Application:
    """Start an application for the actor's enterprise, rows 1–9 copied from its record.

    Only a verified enterprise that is not blacklisted may apply (docs/form.md eligibility); the
    reason is given otherwise, the blacklisting reason included.
    """
    if not actor.has_role(Role.APPLICANT) or actor.enterprise_id is None:
        raise PermissionDenied
    try:
        delegation = require_right(actor, actor.enterprise_id, Right.PREPARE, request=request)
    except RightRefused as exc:
        raise ActionRefused(exc.message) from exc
    with durable():
        enterprise = Enterprise.objects.select_for_update().get(pk=actor.enterprise_id)
        if enterprise.blacklisted:
            raise ActionRefused(
                _("企业已被列入黑名单，不能申报算力补助。原因：%(reason)s")
                % {"reason": enterprise.blacklist_reason or _("未说明")}
            )
        if enterprise.status != Enterprise.Status.VERIFIED:
            raise ActionRefused(_("企业信息尚未通过区文促中心核验，核验通过后方可申报"))
        application = Application.objects.create(
            enterprise=enterprise,
            created_by=actor,
            status=Status.DRAFT,
            **{field: getattr(enterprise, source) for field, source in PREFILLED_FROM_ENTERPRISE.items()},
        )
        record_use(delegation, Right.PREPARE, actor=actor, obj=application, request=request)
        record_event(
            "application.create",
            actor=actor,
            obj=application,
            after={"status": Status.DRAFT, "enterprise_id": enterprise.pk},
            request=request,
        )
    return application


def _refresh_estimate(application: Application) -> None:
    """A draft shows today's estimate (rows 24–25); submission fixes it under that day's policy."""
    if application.total_compute_cost is None or not application.work_minutes:
        application.requested_amount = None
        application.calculation = None
        application.policy_version = ""
        return
    today = timezone.localdate()
    params, _error = checks.policy_for(today)
    if params is None or application.total_compute_cost <= 0:
        return
    result = subsidy_for(application, today, params=params)
    application.requested_amount = result.amount
    application.calculation = result.as_dict()
    application.policy_version = result.policy_version


def update_draft(
    application: Application,
    changes: Mapping[str, Any],
    *,
    actor: User,
    request: HttpRequest | None = None,
) -> Application:
    """Save rows of a draft. ``changes`` holds values already checked by ``ApplicationForm``.

    Only the rows of the form may change (``EDITABLE_FIELDS``): amounts, status and enterprise
    are never the applicant's to set. Row 21 is linked to a registered provider when the name
    matches one; otherwise it stays free text and is flagged for review.
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable by the applicant: {sorted(unknown)}")
    delegation = require_applicant(application, actor, Right.PREPARE, request)
    signing = any(
        name in changes
        and (changes[name] or _UNSIGNED[name]) != (getattr(application, name) or _UNSIGNED[name])
        for name in SIGNING_FIELDS
    )
    signing_delegation = require_applicant(application, actor, Right.SIGN, request) if signing else None
    with durable():
        locked = _locked(application)
        if locked.status != Status.DRAFT:
            raise ActionRefused(_("申请已提交，不能再修改"))
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        for name, value in changes.items():
            if value is None and name in ("overseas", "declaration_accepted"):
                value = False
            old = getattr(locked, name)
            if old != value:
                before[name] = _jsonable(old)
                after[name] = _jsonable(value)
                setattr(locked, name, value)
        if not after:
            return locked
        if "provider_name" in after:
            locked.provider = checks.approved_provider(locked.provider_name)
        if {"total_compute_cost", "work_minutes", "overseas"} & after.keys():
            _refresh_estimate(locked)
        if set(SIGNING_FIELDS) & after.keys():
            locked.declared_by = actor if locked.declaration_accepted else None
            record_use(signing_delegation, Right.SIGN, actor=actor, obj=locked, request=request)
        record_use(delegation, Right.PREPARE, actor=actor, obj=locked, request=request)
        locked.save()
        record_event(
            "application.update", actor=actor, obj=locked, before=before, after=after, request=request
        )
    return locked


def _material_round(application: Application) -> int:
    """0 for a draft; during a supplement, one more than the last round already locked."""
    if application.status == Status.DRAFT:
        return 0
    top = application.materials.filter(locked=True).aggregate(top=Max("supplement_round"))["top"]
    return (top or 0) + 1


def add_material(
    application: Application,
    kind: str,
    checked_upload: CheckedUpload,
    *,
    actor: User,
    request: HttpRequest | None = None,
) -> Material:
    """Attach one checked file (``core.uploads.check_upload``) to the application.

    Allowed while a draft and, after submission, only while the center has asked for a
    supplement (state ``supplement_requested``); a supplement file is a new version of its kind
    and the earlier versions stay. CSV/XLSX only for the consumption detail, which is parsed
    here: a file with bad rows is refused with every row's error (:class:`ConsumptionDetailRejected`).
    """
    kind = MaterialKind(kind)
    delegation = require_applicant(application, actor, Right.PREPARE, request)
    allowed_types = (
        DOCUMENT_TYPES | USAGE_TYPES if kind == MaterialKind.CONSUMPTION_DETAIL else DOCUMENT_TYPES
    )
    if checked_upload.mime not in allowed_types:
        raise ValidationError(
            _("“%(kind)s”只接受 PDF、OFD、JPEG、PNG 文件；CSV/XLSX 仅用于算力消耗明细单") % {"kind": kind.label},
            code="bad_type",
        )
    # Stored under a generated name only (docs/security.md); the original name stays in the row.
    # A refused or failed upload leaves no file behind.
    with stored_files() as files:
        saved = files.save("materials", checked_upload, timezone.localdate())
        with durable():
            locked = _locked(application)
            if locked.status not in (Status.DRAFT, Status.SUPPLEMENT_REQUESTED):
                raise ActionRefused(_("申请已提交，材料已锁定；只有在区文促中心通知补充材料时才能上传新版本"))
            supplement_round = _material_round(locked)
            version = supplement_round + 1
            parsed: ParseResult | None = None
            usage = usage_detail(kind, checked_upload)
            if usage is not None and not usage.lines:
                raise UsageDetailRejected(usage)
            if kind == MaterialKind.CONSUMPTION_DETAIL and checked_upload.mime in TABLE_TYPES and usage is None:
                existing = ConsumptionRow.objects.filter(
                    application=locked, material__deleted=False, material__version=version
                ).values_list("record_id", flat=True)
                parsed = parse_consumption(
                    checked_upload.content,
                    checked_upload.mime,
                    now=timezone.now(),
                    existing_record_ids=existing,
                )
                if not parsed.ok:
                    raise ConsumptionDetailRejected(parsed, checked_upload.original_name)
            material = Material.objects.create(
                application=locked,
                kind=kind,
                file=saved,
                original_name=checked_upload.original_name,
                mime=checked_upload.mime,
                size=len(checked_upload.content),
                sha256=checked_upload.sha256,
                flags=list(checked_upload.flags),
                signature=checked_upload.signature,
                version=version,
                supplement_round=supplement_round,
                uploaded_by=actor,
            )
            if usage is not None:
                save_lines(locked, material, usage)
            if parsed is not None:
                ConsumptionRow.objects.bulk_create(
                    [
                        ConsumptionRow(
                            application=locked,
                            material=material,
                            row_number=row.row_number,
                            record_id=row.record_id,
                            started_at=row.started_at,
                            ended_at=row.ended_at,
                            resource=row.resource,
                            quantity=row.quantity,
                            minutes=row.minutes,
                            unit_price=row.unit_price,
                            amount=row.amount,
                            scenario=row.scenario,
                        )
                        for row in parsed.rows
                    ],
                    batch_size=1000,
                )
                seal(
                    ConsumptionRow,
                    ConsumptionRow.objects.filter(material=material).values_list("pk", flat=True),
                )
            after: dict[str, Any] = {
                "material_id": material.pk,
                "kind": kind.value,
                "name": material.original_name,
                "sha256": material.sha256,
                "size": material.size,
                "version": version,
            }
            if usage is not None:
                after |= {
                    "format": usage.format,
                    "lines": len(usage.lines),
                    "rejected_lines": [r.as_dict() for r in usage.rejections],
                }
            if parsed is not None:
                after |= {
                    "rows": len(parsed.rows),
                    "minutes": parsed.total_minutes,
                    "amount": format_money(parsed.total_amount),
                }
            record_use(delegation, Right.PREPARE, actor=actor, obj=locked, request=request)
            record_event("application.material_upload", actor=actor, obj=locked, after=after, request=request)
    return material


def remove_draft_material(material: Material, *, actor: User, request: HttpRequest | None = None) -> None:
    """Take a file out of a draft (or out of a supplement not yet resubmitted).

    Locked (submitted) files are never removed. The row stays, marked deleted, so the audit
    trail keeps what was uploaded; its parsed consumption rows go.
    """
    application = material.application
    delegation = require_applicant(application, actor, Right.PREPARE, request)
    with durable():
        locked_app = _locked(application)
        row = Material.objects.select_for_update().get(pk=material.pk, application=locked_app)
        if row.locked or row.deleted or locked_app.status not in (Status.DRAFT, Status.SUPPLEMENT_REQUESTED):
            raise ActionRefused(_("已提交的材料不能删除"))
        row.deleted = True
        row.save(update_fields=["deleted"])
        ConsumptionRow.objects.filter(material=row).delete()
        UsageLineRow.objects.filter(material=row).delete()
        record_use(delegation, Right.PREPARE, actor=actor, obj=locked_app, request=request)
        record_event(
            "application.material_remove",
            actor=actor,
            obj=locked_app,
            before={"material_id": row.pk, "kind": row.kind, "name": row.original_name, "sha256": row.sha256},
            request=request,
        )


def lock_materials(application: Application) -> int:
    """Lock every file of the application that is not removed; called inside the caller's
    transaction at submission (and by review when a supplement is resubmitted)."""
    return Material.objects.filter(application=application, deleted=False, locked=False).update(locked=True)


def reference_for(application: Application, year: int) -> str:
    """``YD2026-000123``: the submission year and the application's number, unique by construction."""
    return f"YD{year}-{application.pk:06d}"


def submit_application(
    application: Application, *, actor: User, request: HttpRequest | None = None
) -> Application:
    """Submit a draft (提交申报): refused with the full list of problems, or accepted with a
    reference, the receipt date (Asia/Shanghai) and the amount recomputed under the policy in
    force on that date (docs/subsidy.md), all materials locked, and a receipt sent after commit."""
    delegation = require_applicant(application, actor, Right.SUBMIT, request)
    with durable():
        locked = _locked(application)
        if not allowed("submit", locked.status):
            raise ActionRefused(
                _("只有草稿可以提交，当前状态：%(status)s") % {"status": locked.get_status_display()}
            )
        now = timezone.now()
        today = timezone.localdate(now)
        problems = checks.submission_problems(locked, today=today)
        if problems:
            raise SubmissionRefused(problems)
        assert locked.total_compute_cost is not None and locked.work_minutes is not None
        result = subsidy_for(locked, today)
        if not locked.overseas:
            for name in ("overseas_region", "overseas_agreement_number", "overseas_platform"):
                setattr(locked, name, "")
            locked.overseas_launch_date = None
        before = {"status": locked.status}
        locked.status = TRANSITIONS["submit"].target
        locked.reference = reference_for(locked, today.year)
        locked.submitted_at = now
        locked.received_date = today
        locked.requested_amount = result.amount
        locked.calculation = result.as_dict()
        locked.policy_version = result.policy_version
        locked.licence = verified_licence(locked.enterprise_id)
        try:
            with transaction.atomic():  # a savepoint: the unique filing number may race
                locked.save()
        except IntegrityError as exc:
            raise SubmissionRefused(
                {
                    "filing_number": [
                        _("备案编号“%(number)s”已有申请在审或已获补助，同一作品只能申报一次")
                        % {"number": locked.filing_number}
                    ]
                }
            ) from exc
        lock_materials(locked)
        record_use(delegation, Right.SUBMIT, actor=actor, obj=locked, request=request)
        record_event(
            "application.submit",
            actor=actor,
            obj=locked,
            before=before,
            after={
                "status": locked.status,
                "reference": locked.reference,
                "received_date": today.isoformat(),
                "requested_amount": format_money(result.amount),
                "binding": result.binding,
                "policy_version": result.policy_version,
                "licence_version": locked.licence.version if locked.licence else None,
            },
            request=request,
        )
        # The receipt (回执) and the reconciliation against monitoring follow after commit, in the
        # apps that own them; neither can undo or block the submission.
        hooks.announce(hooks.APPLICATION_SUBMITTED, application_id=locked.pk, actor=actor)
    return locked


def withdraw_application(
    application: Application, *, actor: User, reason: str = "", request: HttpRequest | None = None
) -> Application:
    """The applicant withdraws a draft or a submitted application (before review starts), giving a
    reason, kept in the audit event and shown on the timeline; a withdrawn application frees its
    filing number."""
    delegation = require_applicant(application, actor, Right.SUBMIT, request)
    with durable():
        locked = _locked(application)
        if not allowed("withdraw", locked.status):
            raise ActionRefused(_("审核已开始，不能撤回；如有疑问请联系区文促中心"))
        reason = (reason or "").strip()
        if not reason:
            raise ActionRefused(_("请填写撤回原因"))
        before = {"status": locked.status}
        locked.status = TRANSITIONS["withdraw"].target
        locked.save(update_fields=["status", "updated_at"])
        record_use(delegation, Right.SUBMIT, actor=actor, obj=locked, request=request)
        record_event(
            "application.withdraw",
            actor=actor,
            obj=locked,
            before=before,
            after={"status": locked.status, "opinion": reason[:500]},
            request=request,
        )
        # A submitted case that is withdrawn has ended: review asks the enterprise to rate it.
        hooks.announce(hooks.APPLICATION_ENDED, application_id=locked.pk, actor=actor)
    return locked


def deletable(application: Application) -> bool:
    """A draft never submitted (still a draft, or withdrawn before submission) may be deleted."""
    return application.submitted_at is None and application.status in (Status.DRAFT, Status.WITHDRAWN)


def delete_draft(application: Application, *, actor: User, request: HttpRequest | None = None) -> None:
    """The applicant deletes a draft that was never submitted: the row, its materials and, after
    the commit, their files. The audit event keeps what was deleted."""
    delegation = require_applicant(application, actor, Right.PREPARE, request)
    with durable():
        locked = _locked(application)
        if not deletable(locked):
            raise ActionRefused(_("只能删除从未提交的草稿；已提交的申请请撤回"))
        materials = list(Material.objects.filter(application=locked))
        paths = [str(m.file.name) for m in materials if m.file]
        record_use(delegation, Right.PREPARE, actor=actor, obj=locked, request=request)
        record_event(
            "application.delete_draft",
            actor=actor,
            obj=locked,
            before={
                "status": locked.status,
                "work_title": locked.work_title,
                "materials": [{"name": m.original_name, "sha256": m.sha256} for m in materials],
            },
            request=request,
        )
        try:
            with transaction.atomic():
                ConsumptionRow.objects.filter(application=locked).delete()
                Material.objects.filter(application=locked).delete()
                locked.delete()
        except ProtectedError:
            raise ActionRefused(_("该草稿已被其他记录引用，不能删除；请撤回")) from None

    def remove_files() -> None:
        for path in paths:
            default_storage.delete(path)

    transaction.on_commit(remove_files, robust=True)
