"""The applicant's answer to a supplement notice (docs/states.md): new row values and material
versions, checked by the intake's own rules, then the resubmission that starts the clock again."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from applications import checks
from applications.actions import ActionRefused, add_material, lock_materials
from applications.forms import ApplicationForm
from applications.models import Application, Material
from applications.subsidy import subsidy_for
from core.refusals import problems_of
from core.uploads import CheckedUpload
from enterprises.models import Right
from enterprises.permissions import active_delegation, is_legal_representative, record_use
from review import notify, rows
from review.clock import local_date
from review.models import SupplementItem, SupplementNotice, notices_of
from review.transitions import finish, illegal_transition, invalid_input, performing


def _add_material_version(app: Application, kind: str, upload: CheckedUpload, *, actor: User) -> Material:
    """A new version of a material answering a supplement notice (intake's rules: type, parsing of
    the consumption detail, earlier versions kept). Its refusals become ``ReviewError``s."""
    try:
        return add_material(app, kind, upload, actor=actor)
    except ActionRefused as exc:
        raise invalid_input(exc.problems) from exc
    except ValidationError as exc:
        raise invalid_input(problems_of(exc)) from exc


def _recalculate(app: Application) -> None:
    """Row 25 again after a supplement changed rows 12, 16 or 23 (the submission date's policy)."""
    if app.total_compute_cost is None or app.work_minutes is None:
        return
    day = local_date(app.submitted_at) or timezone.localdate()
    result = subsidy_for(app, day)
    app.requested_amount = result.amount
    app.calculation = result.as_dict()
    app.policy_version = result.policy_version


def _row_title(field: str) -> str:
    row = rows.ROW_BY_FIELD.get(field)
    return row.title if row else checks.field_label(field)


def _parsed_rows(row_values: Mapping[str, str]) -> dict[str, Any]:
    """The applicant's new row values, parsed by the intake's own form (one check per value)."""
    form = ApplicationForm(dict(row_values), fields=list(row_values))
    if not form.is_valid():
        raise invalid_input(
            {field: [f"{_row_title(field)}：{m}" for m in messages] for field, messages in form.errors.items()}
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

    with performing("resubmit", application, actor=actor, request=request, composed=True) as app:
        notice = notices_of(app.pk).filter(resubmitted_date__isnull=True).order_by("-round").first()
        if notice is None:
            raise illegal_transition(_("没有待答复的补正告知"))
        items = list(notice.items.all())
        named = {item.item_code: item for item in items}
        for field in row_values:
            if f"row:{field}" not in named:
                raise invalid_input(_("补正告知未列出该表单项，不能修改：%(field)s") % {"field": field})
        for kind in files:
            if f"material:{kind}" not in named:
                raise invalid_input(_("补正告知未列出该材料，不能上传：%(kind)s") % {"kind": kind})
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
            raise invalid_input(
                {key: [f"{_row_title(key)}：{m}" for m in messages] for key, messages in problems.items()}
            )
        changed.extend(f"material:{kind}" for kind, uploads in files.items() if uploads)
        unanswered = [
            item.label
            for item in items
            if item.item_code not in changed and not (answers.get(item.item_code) or "").strip()
        ]
        if unanswered:
            raise invalid_input(_("以下补正事项既未修改也未说明：%(items)s") % {"items": "、".join(unanswered)})
        uploaded: list[dict[str, Any]] = []
        for kind, uploads in files.items():
            for upload in uploads:
                material = _add_material_version(app, kind, upload, actor=actor)
                uploaded.append({"kind": kind, "version": material.version, "sha256": material.sha256})
        if uploaded:
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
        finish(
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
