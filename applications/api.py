"""The intake API (mounted at /api/v1/applications/): the same flow as the pages, for software.

Session authentication (``django_auth``) with CSRF, like the pages. Errors are keyed by field,
in the same Chinese as the form: ``422 {"errors": {"work_minutes": ["应为不小于 1 的整数"]}}``.
Amounts, status, enterprise and the other workflow facts are never the applicant's to set: a
body that names them is refused, naming them. Another enterprise's application is a 404.
"""

from __future__ import annotations

import datetime as dt
import json
import typing
from typing import Any

from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from ninja import Field, File, Form, Router, Schema
from ninja import Status as Reply
from ninja.files import UploadedFile
from ninja.security import django_auth

from accounts.models import User
from accounts.roles import Role
from applications import actions, checks
from applications.forms import EDITABLE_FIELDS, ApplicationForm
from applications.models import Application, Material, MaterialKind
from applications.pdf import pdf_filename, render_application_pdf
from applications.states import Status
from core.apierrors import ErrorsOut, MessageOut
from core.filetypes import DOCUMENT_TYPES, USAGE_TYPES
from core.lib.money import format_money
from core.uploads import check_upload
from ledger.actions import record_event
from ledger.downloads import audited_download

router = Router(auth=django_auth, tags=["applications"])

# Named in a body, these are refused: the platform sets them (docs/security.md).
PROTECTED_FIELDS = frozenset(
    {
        "id",
        "status",
        "enterprise",
        "enterprise_id",
        "reference",
        "requested_amount",
        "granted_amount",
        "calculation",
        "policy_version",
        "submitted_at",
        "received_date",
        "approved_at",
        "paid_at",
        "provider",
        "provider_id",
        "created_by",
        "created_at",
        "updated_at",
        "support_type",
    }
)


class ApplicationIn(Schema):
    """Rows 1–23 and 26 of the 申请表; every field optional (a draft may be saved half-filled)."""

    enterprise_name: str | None = Field(None, description="1 企业名称（须与注册名称一致）")
    uscc: str | None = Field(None, description="2 统一社会信用代码（18 位）")
    registered_address: str | None = Field(None, description="3 注册地址")
    operating_address: str | None = Field(None, description="4 实际经营地址（空则同注册地址）")
    legal_rep_name: str | None = Field(None, description="5 法定代表人姓名")
    legal_rep_phone: str | None = Field(None, description="6 法定代表人联系电话")
    handler_name: str | None = Field(None, description="7 经办人姓名")
    handler_phone: str | None = Field(None, description="8 经办人联系电话")
    handler_email: str | None = Field(None, description="9 经办人电子邮箱")
    work_title: str | None = Field(None, description="10 短剧作品名称（≤100 字）")
    filing_number: str | None = Field(None, description="11 作品备案证明编号（一部作品只能申报一次）")
    work_minutes: int | None = Field(None, description="12 作品制作时长（分钟），整数 ≥ 1")
    platform_name: str | None = Field(None, description="13 上线平台名称")
    launch_date: dt.date | None = Field(None, description="14 上线时间（YYYY-MM-DD，不晚于今天）")
    launch_proof_number: str | None = Field(None, description="15 上线播放证明材料编号，无则填“无”")
    overseas: bool | None = Field(None, description="16 是否出海发行")
    overseas_region: str | None = Field(None, description="17 出海发行地区 / 国家（出海时必填）")
    overseas_agreement_number: str | None = Field(None, description="18 出海发行协议编号（出海时必填）")
    overseas_platform: str | None = Field(None, description="19 海外上线平台名称（出海时必填）")
    overseas_launch_date: dt.date | None = Field(None, description="20 海外上线时间（出海时必填）")
    provider_name: str | None = Field(None, description="21 算力提供方 / 代理方名称")
    compute_minutes: int | None = Field(None, description="22 算力消耗总时长（分钟），须等于第 12 行")
    total_compute_cost: str | None = Field(None, description="23 总算力成本金额（元），字符串，至多两位小数")
    declaration_accepted: bool | None = Field(None, description="26 确认申报声明")
    signer_name: str | None = Field(None, description="26 声明签署人（法定代表人）姓名")


class MaterialOut(Schema):
    id: int
    kind: str
    kind_label: str
    original_name: str
    mime: str
    size: int
    sha256: str
    version: int
    supplement_round: int
    locked: bool
    uploaded_at: dt.datetime
    download_url: str


class ApplicationSummaryOut(Schema):
    id: int
    reference: str | None
    status: str
    status_label: str
    work_title: str
    requested_amount: str | None
    granted_amount: str | None
    submitted_at: dt.datetime | None
    updated_at: dt.datetime


class ApplicationOut(ApplicationSummaryOut):
    enterprise_id: int
    enterprise: str
    fields: dict[str, Any] = Field(..., description="第 1–23、26 行的内容")
    support_type: str = Field(..., description="24 申请算力服务支持类型（由第 16 行决定）")
    calculation: dict[str, Any] | None = Field(
        None, description="25 的测算明细（政策版本、起决定作用的限额）"
    )
    policy_version: str
    received_date: dt.date | None
    apply_deadline: dt.date | None = Field(None, description="按上线时间计算的申报截止日")
    deadlines: dict[str, Any] = Field(
        default_factory=dict,
        description="期限：{apply: {date, provisional, reason}}；provisional 为 true 表示按暂定节假日推算",
    )
    materials: list[MaterialOut]
    pdf_url: str


class SubmitOut(Schema):
    id: int
    reference: str
    status: str
    received_date: dt.date
    requested_amount: str


def _money(value: Any) -> str | None:
    return format_money(value) if value is not None else None


def _material_out(material: Material) -> dict[str, Any]:
    return {
        "id": material.pk,
        "kind": material.kind,
        "kind_label": str(material.get_kind_display()),
        "original_name": material.original_name,
        "mime": material.mime,
        "size": material.size,
        "sha256": material.sha256,
        "version": material.version,
        "supplement_round": material.supplement_round,
        "locked": material.locked,
        "uploaded_at": material.uploaded_at,
        "download_url": reverse(
            "api:application_material_file",
            kwargs={"application_id": material.application_id, "material_id": material.pk},
        ),
    }


def _summary_out(application: Application) -> dict[str, Any]:
    return {
        "id": application.pk,
        "reference": application.reference,
        "status": application.status,
        "status_label": str(application.get_status_display()),
        "work_title": application.work_title,
        "requested_amount": _money(application.requested_amount),
        "granted_amount": _money(application.granted_amount),
        "submitted_at": application.submitted_at,
        "updated_at": application.updated_at,
    }


def _application_out(application: Application) -> dict[str, Any]:
    fields = {}
    for name in EDITABLE_FIELDS:
        value = getattr(application, name)
        fields[name] = format_money(value) if name == "total_compute_cost" and value is not None else value
    today = application.received_date or timezone.localdate()
    params, _error = checks.policy_for(today)
    deadline = checks.deadline_for(application.launch_date, today, params)
    return {
        **_summary_out(application),
        "enterprise_id": application.enterprise_id,
        "enterprise": application.enterprise.name,
        "fields": fields,
        "support_type": application.support_type,
        "calculation": application.calculation,
        "policy_version": application.policy_version,
        "received_date": application.received_date,
        "apply_deadline": deadline.deadline,
        "deadlines": (
            {
                "apply": {
                    "date": deadline.deadline.isoformat(),
                    "provisional": deadline.provisional,
                    "reason": deadline.reason,
                }
            }
            if deadline.deadline
            else {}
        ),
        "materials": [
            _material_out(m) for m in application.materials.filter(deleted=False).order_by("kind", "id")
        ],
        "pdf_url": reverse("api:application_pdf", kwargs={"application_id": application.pk}),
    }


def _user(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User):
        raise Http404
    return user


def _visible(request: HttpRequest, application_id: int) -> Application:
    return get_object_or_404(
        Application.objects.visible_to(request.user).select_related("enterprise"), pk=application_id
    )


def _own(request: HttpRequest, application_id: int) -> Application:
    user = _user(request)
    if not user.has_role(Role.APPLICANT) or user.enterprise_id is None:
        raise Http404
    return get_object_or_404(
        Application.objects.select_related("enterprise"), pk=application_id, enterprise_id=user.enterprise_id
    )


def _read_body(request: HttpRequest) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """The JSON object of a request, or the field-keyed reasons it cannot be used."""
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None, {"__all__": [_("请求体不是有效的 JSON")]}
    if not isinstance(body, dict):
        return None, {"__all__": [_("请求体应为 JSON 对象")]}
    errors: dict[str, list[str]] = {}
    for key, value in body.items():
        if key in PROTECTED_FIELDS:
            errors[key] = [_("该字段由平台设置，申请人不能填写")]
        elif key not in EDITABLE_FIELDS:
            errors[key] = [_("未知字段")]
        elif isinstance(value, dict | list):
            errors[key] = [_("值的类型不正确")]
        elif value is not None and not _json_type_ok(key, value):
            errors[key] = [str(_JSON_TYPE_MESSAGES.get(_field_type(key), _("值的类型不正确")))]
    return body, errors


def _field_type(name: str) -> Any:
    """The declared type of an ``ApplicationIn`` field, without its ``| None``."""
    annotation = ApplicationIn.model_fields[name].annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return args[0] if args else annotation


_JSON_TYPE_MESSAGES = {
    dt.date: _lazy("应为日期文字（YYYY-MM-DD）"),
    int: _lazy("应为整数"),
    bool: _lazy("应为 true 或 false"),
    str: _lazy("应为文字"),
}


def _json_type_ok(name: str, value: Any) -> bool:
    """Whether a JSON value may stand for the field: dates are text, booleans true/false (or text)."""
    kind = _field_type(name)
    if kind is dt.date:
        return isinstance(value, str)
    if kind is bool:
        return isinstance(value, bool | str)
    if isinstance(value, bool):
        return False
    return isinstance(value, str | int | float)


def _validated_changes(
    application: Application, body: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Check a body with the form and the row rules; all or nothing (unlike the pages' steps)."""
    data = {key: ("" if value is None else value) for key, value in body.items()}
    form = ApplicationForm(data, fields=list(body))
    errors: dict[str, list[str]] = {}
    if not form.is_valid():
        errors = {key: [str(m) for m in messages] for key, messages in form.errors.items()}
    changes = form.valid_changes()
    values = checks.values_of(application, changes)
    row_problems = checks.field_problems(values, checks.context_for(application, values), only=changes)
    for key, messages in row_problems.items():
        if key in errors or checks.is_empty(values.get(key)) or key == "declaration_accepted":
            continue  # an empty row is allowed in a draft; submission reports it
        errors[key] = messages
    return changes, errors


@router.get("/", response=list[ApplicationSummaryOut], summary="我的申报列表", url_name="application_list")
def list_applications(request: HttpRequest) -> list[dict[str, Any]]:
    qs = Application.objects.visible_to(request.user).order_by("-created_at", "-id")[:500]
    return [_summary_out(a) for a in qs]


@router.post(
    "/",
    response={201: ApplicationOut, 403: MessageOut, 409: MessageOut, 422: ErrorsOut},
    summary="新建申报草稿",
    description="第 1–9 行自动从企业注册信息带入；请求体可同时填写其他行（同 PATCH）。",
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": ApplicationIn.model_json_schema()}}}
    },
    url_name="application_create",
)
def create_application(request: HttpRequest) -> Reply[dict[str, Any]]:
    user = _user(request)
    if not user.has_role(Role.APPLICANT) or user.enterprise_id is None:
        return Reply(403, {"detail": _("只有企业用户可以申报")})
    body, errors = _read_body(request)
    if errors or body is None:
        return Reply(422, {"errors": errors})
    application = actions.create_draft(actor=user, request=request)
    if body:
        changes, errors = _validated_changes(application, body)
        if errors:
            return Reply(422, {"errors": errors})
        application = actions.update_draft(application, changes, actor=user, request=request)
    return Reply(201, _application_out(application))


@router.get(
    "/{int:application_id}", response=ApplicationOut, summary="申报详情", url_name="application_detail"
)
def read_application(request: HttpRequest, application_id: int) -> dict[str, Any]:
    return _application_out(_visible(request, application_id))


@router.patch(
    "/{int:application_id}",
    response={200: ApplicationOut, 409: MessageOut, 422: ErrorsOut},
    summary="修改申报草稿",
    description="只改请求体中出现的字段；有任何错误则一项也不保存，错误按字段返回。",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ApplicationIn.model_json_schema()}},
        }
    },
    url_name="application_update",
)
def update_application(request: HttpRequest, application_id: int) -> Reply[dict[str, Any]]:
    application = _own(request, application_id)
    body, errors = _read_body(request)
    if errors or body is None:
        return Reply(422, {"errors": errors})
    if application.status != Status.DRAFT:
        return Reply(409, {"detail": _("申请已提交，不能再修改")})
    changes, errors = _validated_changes(application, body)
    if errors:
        return Reply(422, {"errors": errors})
    application = actions.update_draft(application, changes, actor=_user(request), request=request)
    return Reply(200, _application_out(application))


@router.get(
    "/{int:application_id}/problems",
    response=ErrorsOut,
    summary="提交前还需处理的问题",
    description="与提交时的检查相同；为空表示可以提交。",
    url_name="application_problems",
)
def application_problems(request: HttpRequest, application_id: int) -> dict[str, Any]:
    return {"errors": checks.submission_problems(_own(request, application_id))}


@router.post(
    "/{int:application_id}/materials",
    response={201: MaterialOut, 409: MessageOut, 422: ErrorsOut},
    summary="上传申报材料",
    description="multipart/form-data：kind（材料类别）与 file。PDF/JPEG/PNG，算力消耗明细单另可 CSV/XLSX；类型按内容识别。",
    url_name="application_material_upload",
)
def upload_material(
    request: HttpRequest,
    application_id: int,
    kind: Form[str],
    file: File[UploadedFile],
) -> Reply[dict[str, Any]]:
    application = _own(request, application_id)
    if kind not in MaterialKind.values:
        return Reply(
            422,
            {
                "errors": {
                    "kind": [_("材料类别无效，应为：%(kinds)s") % {"kinds": "、".join(MaterialKind.values)}]
                }
            },
        )
    allowed = DOCUMENT_TYPES | USAGE_TYPES if kind == MaterialKind.CONSUMPTION_DETAIL else DOCUMENT_TYPES
    try:
        checked = check_upload(file, allowed)
        material = actions.add_material(application, kind, checked, actor=_user(request), request=request)
    except actions.ConsumptionDetailRejected as exc:
        return Reply(
            422, {"errors": {"file": exc.messages}, "rows": [e.as_dict() for e in exc.result.errors]}
        )
    except ValidationError as exc:
        return Reply(422, {"errors": {"file": exc.messages}})
    return Reply(201, _material_out(material))


@router.delete(
    "/{int:application_id}/materials/{int:material_id}",
    response={204: None, 409: MessageOut},
    summary="删除草稿中的材料",
    url_name="application_material_delete",
)
def delete_material(request: HttpRequest, application_id: int, material_id: int) -> Reply[Any]:
    application = _own(request, application_id)
    material = get_object_or_404(Material, pk=material_id, application=application, deleted=False)
    actions.remove_draft_material(material, actor=_user(request), request=request)
    return Reply(204, None)


@router.get(
    "/{int:application_id}/materials/{int:material_id}",
    summary="下载申报材料",
    response={200: None},
    url_name="application_material_file",
)
def material_file(request: HttpRequest, application_id: int, material_id: int) -> FileResponse:
    application = _visible(request, application_id)
    material = get_object_or_404(Material, pk=material_id, application=application, deleted=False)
    return audited_download(
        request,
        "application.material_download",
        obj=application,
        after={"material_id": material.pk, "kind": material.kind, "api": True},
        path=str(material.file.name),
        content_type=material.mime,
        filename=material.original_name,
    )


@router.get(
    "/{int:application_id}/pdf", summary="下载申请表 PDF", response={200: None}, url_name="application_pdf"
)
def application_pdf(request: HttpRequest, application_id: int) -> HttpResponse:
    application = _visible(request, application_id)
    record_event("application.pdf_download", actor=request.user, obj=application, request=request)
    response = HttpResponse(render_application_pdf(application), content_type="application/pdf")
    response["Content-Disposition"] = (
        content_disposition_header(True, pdf_filename(application)) or "attachment"
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


@router.post(
    "/{int:application_id}/submit",
    response={200: SubmitOut, 409: MessageOut, 422: ErrorsOut},
    summary="提交申报",
    description="不满足条件时返回 422，列出所有尚需处理的问题。",
    url_name="application_submit",
)
def submit_application(request: HttpRequest, application_id: int) -> Reply[dict[str, Any]]:
    application = _own(request, application_id)
    application = actions.submit_application(application, actor=_user(request), request=request)
    assert application.reference and application.received_date and application.requested_amount is not None
    return Reply(
        200,
        {
            "id": application.pk,
            "reference": application.reference,
            "status": application.status,
            "received_date": application.received_date,
            "requested_amount": format_money(application.requested_amount),
        },
    )


class WithdrawIn(Schema):
    reason: str = Field("", max_length=500, description="撤回原因（必填）")


@router.post(
    "/{int:application_id}/withdraw",
    response={200: ApplicationSummaryOut, 409: MessageOut, 422: ErrorsOut},
    summary="撤回申请",
    description='请求体可选：{"reason": "撤回原因"}。',
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": WithdrawIn.model_json_schema()}}}
    },
    url_name="application_withdraw",
)
def withdraw_application(request: HttpRequest, application_id: int) -> Reply[dict[str, Any]]:
    application = _own(request, application_id)
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("reason", ""), str):
        return Reply(422, {"errors": {"reason": [_("请求体应为 JSON 对象，reason 为文字")]}})
    application = actions.withdraw_application(
        application, actor=_user(request), reason=body.get("reason", ""), request=request
    )
    return Reply(200, _summary_out(application))
