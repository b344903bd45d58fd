"""Pages of the intake: the applicant's list, the guided six-step form, materials, the PDF, detail.

Views are glue (STYLE.md): fetch with permission → validate → one action → render or redirect.
Another enterprise's application is a 404 everywhere, never a 403 that would confirm it exists.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import User, current_user
from accounts.roles import Role
from applications import actions, checks
from applications.consumption import CSV_MIME, XLSX_MIME
from applications.forms import (
    EDITABLE_FIELDS,
    OVERSEAS_DETAIL_FIELDS,
    PLATFORM_SUGGESTIONS,
    STEP_BY_SLUG,
    STEPS,
    ApplicationForm,
    MaterialUploadForm,
    Step,
    step_of_field,
)
from applications.models import Application, Material, MaterialKind
from applications.pdf import pdf_filename, render_application_pdf
from applications.queries import estimate
from applications.states import Status
from applications.timeline import timeline
from applications.vendor_formats.template import template_csv, template_xlsx
from core import hooks
from core.filetypes import DOCUMENT_TYPES, USAGE_TYPES
from core.lib.money import display_money
from core.signing import issued_pdf_response
from core.uploads import check_upload
from core.validators import display_phone
from enterprises.models import Provider
from ledger.actions import record_event
from ledger.downloads import audited_download


def get_application_for_user(request: HttpRequest, pk: int) -> Application:
    """An application the user may see (own enterprise's, or any for center staff); else 404."""
    qs = Application.objects.visible_to(request.user).select_related("enterprise", "provider")
    return get_object_or_404(qs, pk=pk)


def get_own_application(request: HttpRequest, pk: int) -> Application:
    """An application the user may act on as applicant: only their enterprise's; else 404."""
    user = current_user(request)
    if not user.has_role(Role.APPLICANT) or user.enterprise_id is None:
        raise Http404
    return get_object_or_404(
        Application.objects.select_related("enterprise", "provider"), pk=pk, enterprise_id=user.enterprise_id
    )


def _material_for(application: Application, material_pk: int) -> Material:
    return get_object_or_404(Material, pk=material_pk, application=application, deleted=False)


@login_required
@require_GET
def application_list(request: HttpRequest) -> HttpResponse:
    """我的申报: the enterprise's applications with status and amount; the entry to a new one."""
    user = current_user(request)
    applications = (
        Application.objects.visible_to(user).select_related("enterprise").order_by("-created_at", "-id")[:200]
    )
    enterprise = user.enterprise if user.has_role(Role.APPLICANT) else None
    return render(
        request,
        "applications/list.html",
        {
            "applications": applications,
            "enterprise": enterprise,
            "can_apply": enterprise is not None and enterprise.can_apply,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def start(request: HttpRequest) -> HttpResponse:
    """开始申报: explains what is needed; POST creates the draft (rows 1–9 from the enterprise)."""
    user = current_user(request)
    if not user.has_role(Role.APPLICANT) or user.enterprise is None:
        raise PermissionDenied
    problem = ""
    if request.method == "POST":
        try:
            application = actions.create_draft(actor=user, request=request)
        except actions.ActionRefused as exc:
            problem = exc.message
        else:
            messages.success(request, _("已创建申报草稿，每一步都会自动保存。"))
            return redirect("applications:step", pk=application.pk, step=STEPS[0].slug)
    else:
        problems = checks.enterprise_problems(Application(enterprise=user.enterprise))
        problem = " ".join(problems.get("enterprise", []))
    return render(
        request,
        "applications/start.html",
        {"enterprise": user.enterprise, "problem": problem, "kinds": MaterialKind.choices},
    )


def _step_nav(application: Application, current: str) -> list[dict[str, Any]]:
    slugs = [s.slug for s in STEPS]
    index = slugs.index(current)
    return [
        {
            "slug": step.slug,
            "title": step.title,
            "number": n + 1,
            "state": "current" if n == index else ("done" if n < index else ""),
            "url": reverse("applications:step", kwargs={"pk": application.pk, "step": step.slug}),
        }
        for n, step in enumerate(STEPS)
    ]


def _neighbours(step: Step) -> tuple[str | None, str | None]:
    slugs = [s.slug for s in STEPS]
    index = slugs.index(step.slug)
    return (slugs[index - 1] if index else None, slugs[index + 1] if index + 1 < len(slugs) else None)


def _estimate_context(application: Application, data: Any = None) -> dict[str, Any]:
    """Rows 24–25 from the stored draft, or from values being typed (``data``, via htmx)."""
    cost: Decimal | None = application.total_compute_cost
    minutes: int | None = application.work_minutes
    overseas = application.overseas
    if data is not None:
        try:
            raw = str(data.get("total_compute_cost", "")).strip().replace(",", "")
            if raw:
                cost = Decimal(raw)
        except InvalidOperation:
            cost = None
        if cost is not None and (not cost.is_finite() or cost != cost.quantize(Decimal("0.01"))):
            cost = None
        raw_minutes = str(data.get("work_minutes", "")).strip()
        if raw_minutes.isdigit():
            minutes = int(raw_minutes)
        if "overseas" in data:
            overseas = str(data.get("overseas")) in ("1", "true", "是")  # i18n: data (the form's value)
    result = estimate(application, total_compute_cost=cost, work_minutes=minutes, overseas=overseas)
    return {"estimate": result, "support_overseas": overseas, "today": timezone.localdate()}


def _deadline(application: Application, launch_date: dt.date | None = None) -> checks.DeadlineInfo:
    today = timezone.localdate()
    params, _error = checks.policy_for(today)
    return checks.deadline_for(launch_date or application.launch_date, today, params)


def _provider_names() -> list[str]:
    return list(Provider.objects.filter(status=Provider.Status.APPROVED).values_list("name", flat=True))


@login_required
@require_http_methods(["GET", "POST"])
def step(request: HttpRequest, pk: int, step: str) -> HttpResponse:
    """One step of the guided form. Every POST saves the values that pass their checks; the
    page comes back with everything typed and a Chinese message at each field still wrong.
    "下一步" also requires the step's rows (docs/form.md checks); "保存草稿" does not."""
    application = get_own_application(request, pk)
    if application.status != Status.DRAFT:
        return redirect("applications:detail", pk=application.pk)
    current = STEP_BY_SLUG.get(step)
    if current is None:
        raise Http404
    if current.slug == "materials":
        return materials(request, application)
    previous, following = _neighbours(current)
    user = current_user(request)
    step_problems: dict[str, list[str]] = {}

    if request.method == "POST":
        form = ApplicationForm(request.POST, fields=current.fields)
        form.is_valid()
        changes = form.valid_changes()
        if current.slug == "overseas" and "overseas" not in request.POST:
            changes.pop("overseas", None)
        try:
            application = actions.update_draft(application, changes, actor=user, request=request)
        except actions.ActionRefused as exc:
            messages.error(request, exc.message)
            return redirect("applications:detail", pk=application.pk)
        go = request.POST.get("go", "save")
        if go in ("next", "submit"):
            values = checks.values_of(application)
            values.update({k: v for k, v in changes.items()})
            step_problems = checks.field_problems(
                values, checks.context_for(application, values), only=current.fields
            )
            for name, problems in step_problems.items():
                if name in form.fields and name not in form.errors:
                    for message in problems:
                        form.add_error(name, message)
        if not form.errors:
            if current.slug == "confirm" and go == "submit":
                return submit(request, application.pk)
            if go == "next" and following:
                return redirect("applications:step", pk=application.pk, step=following)
            if go == "back" and previous:
                return redirect("applications:step", pk=application.pk, step=previous)
            messages.success(request, _("草稿已保存。"))
            return redirect("applications:step", pk=application.pk, step=current.slug)
        if go == "back" and previous:
            # Going back keeps what was valid; the rest is shown again when the user returns.
            return redirect("applications:step", pk=application.pk, step=previous)
    else:
        initial = {name: getattr(application, name) for name in current.fields}
        if current.slug == "confirm" and not application.signer_name:
            initial["signer_name"] = application.legal_rep_name
        if current.slug == "overseas" and "overseas" in request.GET:
            initial["overseas"] = request.GET.get("overseas") == "1"
        form = ApplicationForm(initial=initial, fields=current.fields)

    overseas_shown = application.overseas
    if current.slug == "overseas":
        if form.is_bound:
            overseas_shown = str(form.data.get("overseas", "1" if application.overseas else "0")) == "1"
        elif "overseas" in request.GET:
            overseas_shown = request.GET.get("overseas") == "1"
    context: dict[str, Any] = {
        "application": application,
        "form": form,
        "step": current,
        "steps": _step_nav(application, current.slug),
        "previous": previous,
        "following": following,
        "overseas_shown": overseas_shown,
        "platforms": PLATFORM_SUGGESTIONS,
        "providers": _provider_names() if current.slug == "compute" else [],
        "deadline": _deadline(application) if current.slug in ("work", "confirm") else None,
    }
    if current.slug == "compute":
        context.update(_estimate_context(application, request.POST if request.method == "POST" else None))
        context["provider_registered"] = application.provider_id is not None
    if current.slug == "confirm":
        context.update(_confirm_context(application))
    return render(request, "applications/step.html", context, status=422 if form.errors else 200)


def form_rows(application: Application) -> list[tuple[str, Any]]:
    """Rows 1–23 as (label, value for display): phones readable, yes/no in words."""
    rows: list[tuple[str, Any]] = []
    for name in EDITABLE_FIELDS[:23]:
        value = getattr(application, name)
        if name in ("legal_rep_phone", "handler_phone") and value:
            value = display_phone(value)
        elif name in OVERSEAS_DETAIL_FIELDS and not application.overseas:
            value = ""
        elif isinstance(value, Decimal):
            value = display_money(value)
        rows.append((checks.field_label(name), value))
    return rows


def _step_slug_of(key: str) -> str:
    found = step_of_field(key)
    return found.slug if found is not None else "materials"


def _confirm_context(application: Application) -> dict[str, Any]:
    problems = checks.submission_problems(application)
    return {
        "problems": [
            {
                "key": key,
                "label": checks.field_label(key),
                "messages": messages_,
                "step": _step_slug_of(key),
            }
            for key, messages_ in problems.items()
            if key not in ("declaration_accepted", "signer_name")
        ],
        "materials_current": application.current_materials().order_by("kind", "id"),
        "totals": checks.consumption_totals(application),
        **_estimate_context(application),
        "rows": form_rows(application),
    }


@login_required
@require_GET
def estimate_fragment(request: HttpRequest, pk: int) -> HttpResponse:
    """Rows 24–25 and the quota left, for the values being typed (htmx swaps this fragment)."""
    application = get_own_application(request, pk)
    return render(request, "applications/_estimate.html", _estimate_context(application, request.GET))


def materials(
    request: HttpRequest, application: Application, form: Any = None, rejected: Any = None
) -> HttpResponse:
    """Step 5: upload, list and remove files; the consumption-detail template and its totals."""
    current = STEP_BY_SLUG["materials"]
    previous, following = _neighbours(current)
    live = application.materials.filter(deleted=False).order_by("kind", "version", "id")
    by_kind = []
    required = set(application.required_material_kinds())
    held = checks.held_materials(application)
    for value, label in MaterialKind.choices:
        if value == MaterialKind.OVERSEAS_PROOF and not application.overseas:
            continue
        files = [m for m in live if m.kind == value]
        by_kind.append(
            {
                "value": value,
                "label": label,
                "required": value in required,
                "files": files,
                "held": held.get(value),
            }
        )
    return render(
        request,
        "applications/materials.html",
        {
            "application": application,
            "step": current,
            "steps": _step_nav(application, current.slug),
            "previous": previous,
            "following": following,
            "by_kind": by_kind,
            "form": form or MaterialUploadForm(),
            "rejected": rejected,
            "totals": checks.consumption_totals(application),
            "problems": checks.material_problems(application),
            "editable": application.status in (Status.DRAFT, Status.SUPPLEMENT_REQUESTED),
        },
        status=422 if (rejected or (form is not None and form.errors)) else 200,
    )


@login_required
@require_GET
def materials_page(request: HttpRequest, pk: int) -> HttpResponse:
    """The materials of an application outside the draft steps (a supplement, or to look)."""
    return materials(request, get_own_application(request, pk))


def usage_notice(request: HttpRequest, material: Material) -> None:
    """After a vendor export is accepted: its format and the lines it could not give, by line."""
    usage_file = getattr(material, "usage_file", None)
    if usage_file is None or not usage_file.rejections:
        return
    shown = "；".join(
        _("第 %(line)s 行：%(reason)s") % {"line": r["line"], "reason": r["reason"]}
        if r["line"]
        else r["reason"]
        for r in usage_file.rejections[:5]
    )
    more = _("等") if len(usage_file.rejections) > 5 else ""
    messages.warning(
        request,
        _("“%(name)s”中有 %(count)d 行未计入（%(lines)s%(more)s），其余各行已计入")
        % {"name": material.original_name, "count": len(usage_file.rejections), "lines": shown, "more": more},
    )


@login_required
@require_POST
def material_upload(request: HttpRequest, pk: int) -> HttpResponse:
    """Upload one or more files of one kind; each is checked (type by content, size, PDF scripts)."""
    application = get_own_application(request, pk)
    user = current_user(request)
    form = MaterialUploadForm(request.POST, request.FILES)
    rejected = None
    if form.is_valid():
        kind = form.cleaned_data["kind"]
        allowed = DOCUMENT_TYPES | USAGE_TYPES if kind == MaterialKind.CONSUMPTION_DETAIL else DOCUMENT_TYPES
        saved = 0
        for upload in form.cleaned_data["file"]:
            try:
                checked = check_upload(upload, allowed)
                material = actions.add_material(application, kind, checked, actor=user, request=request)
                saved += 1
                usage_notice(request, material)
            except actions.ConsumptionDetailRejected as exc:
                rejected = exc
                form.add_error("file", exc.messages[0])
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error("file", message)
            except actions.ActionRefused as exc:
                form.add_error(None, exc.message)
                break
        if saved:
            messages.success(request, _("已上传 %(count)d 个文件。") % {"count": saved})
        if not form.errors:
            return redirect(_materials_url(application))
    application.refresh_from_db()
    return materials(request, application, form=form, rejected=rejected)


@login_required
@require_POST
def material_remove(request: HttpRequest, pk: int, material_pk: int) -> HttpResponse:
    application = get_own_application(request, pk)
    material = _material_for(application, material_pk)
    try:
        actions.remove_draft_material(material, actor=current_user(request), request=request)
        messages.success(request, _("已删除“%(name)s”。") % {"name": material.original_name})
    except actions.ActionRefused as exc:
        messages.error(request, exc.message)
    return redirect(_materials_url(application))


def _materials_url(application: Application) -> str:
    if application.status == Status.DRAFT:
        return reverse("applications:step", kwargs={"pk": application.pk, "step": "materials"})
    return reverse("applications:materials", kwargs={"pk": application.pk})


def _file_response(
    request: HttpRequest, application: Application, material: Material, *, inline: bool
) -> FileResponse:
    response = audited_download(
        request,
        "application.material_download",
        obj=application,
        after={"material_id": material.pk, "kind": material.kind, "inline": inline},
        path=str(material.file.name),
        content_type=material.mime,
        filename=material.original_name,
        inline=inline,
    )
    response["Cache-Control"] = "private, no-store"
    if inline:
        if material.mime == "application/pdf":
            # The browser's PDF viewer is a plugin: a sandbox or object-src 'none' would block it.
            # PDFs with JavaScript were refused at upload (core.uploads).
            response["Content-Security-Policy"] = (
                "default-src 'none'; object-src 'self'; img-src 'self' data:; style-src 'unsafe-inline'"
            )
        else:
            # An image in a sandbox: no scripts, no same-origin access.
            response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    return response


@login_required
@require_GET
def material_download(request: HttpRequest, pk: int, material_pk: int) -> FileResponse:
    """A material as an attachment, to those who may see the application (docs/security.md)."""
    application = get_application_for_user(request, pk)
    return _file_response(request, application, _material_for(application, material_pk), inline=False)


@login_required
@require_GET
def material_view(request: HttpRequest, pk: int, material_pk: int) -> FileResponse:
    """An image or PDF shown inline to those allowed; other types are only downloaded."""
    application = get_application_for_user(request, pk)
    material = _material_for(application, material_pk)
    if not material.inline_viewable:
        raise Http404
    return _file_response(request, application, material, inline=True)


@require_GET
def consumption_template(request: HttpRequest, fmt: str) -> HttpResponse:
    """The consumption-detail template in the usage-line layout (docs/usage-formats.md), CSV or XLSX."""
    if fmt == "csv":
        content, mime = template_csv(), CSV_MIME + "; charset=utf-8"
    elif fmt == "xlsx":
        content, mime = template_xlsx(), XLSX_MIME
    else:
        raise Http404
    response = HttpResponse(content, content_type=mime)
    response["Content-Disposition"] = f'attachment; filename="consumption-detail-template.{fmt}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_GET
def application_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The filled 申请表 as a PDF for printing, signing and stamping."""
    application = get_application_for_user(request, pk)
    content = render_application_pdf(application)
    record_event("application.pdf_download", actor=request.user, obj=application, request=request)
    return issued_pdf_response(content, pdf_filename(application))


@login_required
@require_POST
def submit(request: HttpRequest, pk: int) -> HttpResponse:
    """提交申报: refused with the full list of what is still wrong, shown on the confirm step."""
    application = get_own_application(request, pk)
    try:
        application = actions.submit_application(application, actor=current_user(request), request=request)
    except actions.SubmissionRefused as exc:
        messages.error(
            request,
            _("尚不能提交，请先处理以下 %(count)d 项问题。")
            % {"count": sum(len(v) for v in exc.problems.values())},
        )
        return redirect("applications:step", pk=application.pk, step="confirm")
    except actions.ActionRefused as exc:
        messages.error(request, exc.message)
        return redirect("applications:detail", pk=application.pk)
    messages.success(
        request,
        _("申报已提交，申报编号 %(reference)s。回执已发送至经办人邮箱。")
        % {"reference": application.reference},
    )
    return redirect("applications:detail", pk=application.pk)


@login_required
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The application as submitted, its materials (all versions) and its status timeline."""
    application = get_application_for_user(request, pk)
    user: User = current_user(request)
    is_owner = user.has_role(Role.APPLICANT) and user.enterprise_id == application.enterprise_id
    return render(
        request,
        "applications/detail.html",
        {
            "application": application,
            "rows": form_rows(application),
            "materials": application.materials.filter(deleted=False).order_by("kind", "version", "id"),
            "timeline": timeline(application),
            "is_owner": is_owner,
            # A draft never submitted is deleted, not withdrawn: it would otherwise stay forever.
            "can_withdraw": is_owner and application.status == Status.SUBMITTED,
            "can_delete": is_owner and actions.deletable(application),
            "can_edit": is_owner and application.status == Status.DRAFT,
            "calculation": application.calculation or {},
            "first_step": STEPS[0].slug,
            # Higher apps add their cards (the 好差评 of an ended case, from review).
            "panels": hooks.collect(hooks.APPLICATION_PAGE_PANELS, application=application, user=user),
        },
    )
