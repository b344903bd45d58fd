"""达标即享 (docs/offers.md): the launch of a registered work triggers an offer computed from the usage
the platform holds; the enterprise accepts it in one step and confirms.

- :func:`held_lines` — the usage lines attributed to a work in the log: agent-signed GPU records and
  lines reported by providers (a reseller's bill lines among them), each with its log leaf index;
- :func:`record_launch` — the enterprise records the launch; the offer is computed and pushed;
- :func:`accept_offer` — opens an application: rows 1–9 from the enterprise, 10–16 from the work,
  21–23 and the consumption detail from the platform's own lines, the launch proof attached;
- :func:`confirm_offer` — row 26 signed by the actor (the legal representative or a handler holding
  the signing right), submitted through the one submission action, the final 申请表 sealed;
- :func:`decline_offer`; the held lines are read by ``review.held_lines``, the apply-by date kept
  by ``review.offer_deadlines``.

The subsidy is computed by the one computation of row 25 (``applications.subsidy.subsidy_for``) on the
subsidy base of the lines (``applications.usage_lines.subsidy_base``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from applications import actions
from applications.models import Application, Material, MaterialKind, Offer, Work
from applications.pdf import render_application_pdf
from applications.subsidy import subsidy_for
from applications.usage_lines import BaseRules, describe_base, subsidy_base, unit_label
from applications.usage_store import base_on, save_lines
from applications.vendor_formats.base import FileResult
from applications.works import (
    WorkRefused,
    require_enterprise_right,
    stamped_form_required,
)
from core.lib.dates import chinese_date
from core.lib.money import display_money, format_money, round_half_up
from core.lib.usage_vocabulary import AGENT_SIGNED, KINDS, SOURCES
from core.models import Notification
from core.transactions import batch, durable
from core.uploads import CheckedUpload, generated_path, stored_files
from core.xlsx import XLSX_CONTENT_TYPE, write_sheet
from enterprises.models import Right, verified_licence
from enterprises.permissions import record_use
from ledger.actions import record_event
from policy import calendar as policy_calendar
from policy.loader import PolicyNotInForceError, PolicyParams, params_at
from review.held_lines import HeldLine, held_lines
from review.notify import deliver, enterprise_users

ZERO = Decimal("0.00")
PLATFORM_FORMAT = "platform"


# --- the offer's figures --------------------------------------------------------------------------


@dataclass
class Figures:
    base: Decimal
    estimate: Decimal
    breakdown: dict[str, Any]
    evidence: list[str]
    missing: list[str]
    apply_by: policy_calendar.Deadline
    lines: list[HeldLine]


def _params(day: dt.date) -> PolicyParams:
    try:
        return params_at(day)
    except PolicyNotInForceError as exc:
        raise WorkRefused(str(exc)) from exc


def figures(work: Work, day: dt.date) -> Figures:
    """The entitlement of a launched work on ``day`` from the lines the platform holds."""
    assert work.launch_date is not None and work.work_minutes
    params = _params(day)
    lines = held_lines(work)
    base = subsidy_base([h.line for h in lines], BaseRules.from_params(params))
    estimate = ZERO
    breakdown: dict[str, Any] = {"base": base.as_dict(), "base_text": describe_base(base)}
    if base.total > 0:
        probe = Application(enterprise=work.enterprise, overseas=False)
        result = subsidy_for(
            probe, day, params=params, total_compute_cost=base.total, work_minutes=work.work_minutes
        )
        estimate = result.amount
        breakdown["subsidy"] = result.as_dict()
    agent = sum(1 for h in lines if h.line.source == AGENT_SIGNED)
    reported = len(lines) - agent
    evidence = []
    if verified_licence(work.enterprise_id) is not None:
        evidence.append(_("营业执照（已核验）"))
    if agent:
        evidence.append(_("监控代理签名的 GPU 使用记录 %(n)d 条") % {"n": agent})
    if reported:
        evidence.append(_("算力提供方报送的用量与账单行 %(n)d 条") % {"n": reported})
    if work.screenshot:
        evidence.append(_("上线截图与播放链接"))
    if work.filing_verified:
        evidence.append(_("作品备案证明（已核验）"))
    missing = []
    if not work.filing_verified:
        missing.append(_("作品备案证明（尚未核验，请在申请中上传）"))
    if not lines:
        missing.append(_("平台尚无该作品的算力使用记录：请确认提供方在用量上填写了作品编号"))
    missing.append(_("提供方未报送的用量的结算凭证（如有）"))
    if stamped_form_required(day):
        missing.append(_("加盖公章的申请表扫描件"))
    apply_by = policy_calendar.apply_due(work.launch_date, params)
    return Figures(base.total, estimate, breakdown, evidence, missing, apply_by, lines)


# --- notices --------------------------------------------------------------------------------------


def offer_link(offer: Offer) -> str:
    return reverse("review:offer", args=[offer.pk])


def apply_by_text(offer: Offer) -> str:
    text = chinese_date(offer.apply_by)
    return text + _("（暂定）") if offer.apply_by_provisional else text


def notify_about_offer(offer: Offer, kind: str, title: str, body: str) -> None:
    """Inbox and e-mail; a text message for the offer and its reminders, which need action."""
    needs_action = kind in (Notification.Kind.OFFER, Notification.Kind.OFFER_REMINDER)
    deliver(
        enterprise_users(offer.work.enterprise_id),
        kind=kind,
        title=title,
        body=body,
        link=offer_link(offer),
        sms={
            "reference": offer.work.reference,
            "amount": display_money(offer.estimate),
            "deadline": apply_by_text(offer),
        }
        if needs_action
        else None,
    )


def offer_body(offer: Offer) -> str:
    work = offer.work
    return render_to_string(
        "review/email/offer.txt",
        {
            "offer": offer,
            "work": work,
            "estimate": display_money(offer.estimate),
            "base": display_money(offer.base),
            "apply_by": apply_by_text(offer),
            "url": settings.SITE_URL.rstrip("/") + offer_link(offer),
        },
    ).strip()


def notify_offer(offer: Offer) -> None:
    title = _("作品《%(title)s》可申领算力补助约 %(amount)s 元") % {
        "title": offer.work.title,
        "amount": display_money(offer.estimate),
    }
    notify_about_offer(offer, Notification.Kind.OFFER, title, offer_body(offer))


# --- actions --------------------------------------------------------------------------------------


def _launch_changes(
    launch_date: dt.date, platforms: str, play_url: str, filing_number: str, work_minutes: int, today: dt.date
) -> dict[str, Any]:
    problems = []
    if launch_date > today:
        problems.append(_("上线时间不能晚于今天"))
    if not (platforms or "").strip():
        problems.append(_("请填写上线平台名称"))
    if not (filing_number or "").strip():
        problems.append(_("请填写作品备案证明编号"))
    if not isinstance(work_minutes, int) or work_minutes < 1:
        problems.append(_("作品制作时长应为不小于 1 的整数（分钟）"))
    url = (play_url or "").strip()
    if not url.startswith(("https://", "http://")):
        problems.append(_("请填写以 https:// 开头的播放链接"))
    if problems:
        raise WorkRefused("；".join(problems))
    return {
        "launch_date": launch_date,
        "platforms": platforms.strip()[:100],
        "play_url": url[:300],
        "filing_number": filing_number.strip()[:64],
        "work_minutes": work_minutes,
    }


def record_launch(
    work: Work,
    *,
    actor: User,
    launch_date: dt.date,
    platforms: str,
    play_url: str,
    filing_number: str,
    work_minutes: int,
    screenshot: CheckedUpload,
    request: HttpRequest | None = None,
) -> Offer:
    """The enterprise records the launch with its screenshot; the platform computes the entitlement
    from the usage it holds and pushes the offer (inbox and e-mail, after commit)."""
    delegation = require_enterprise_right(actor, work.enterprise_id, Right.PREPARE, request)
    now = timezone.now()
    today = timezone.localdate(now)
    changes = _launch_changes(launch_date, platforms, play_url, filing_number, work_minutes, today)
    if screenshot.mime not in ("image/png", "image/jpeg", "application/pdf"):
        raise WorkRefused(_("上线截图只接受 PNG、JPEG 图片或 PDF 文件"))
    with stored_files() as files:
        path = files.save("launches", screenshot, today)
        with durable():
            locked = Work.objects.select_for_update().select_related("enterprise").get(pk=work.pk)
            if locked.launch_date is not None:
                raise WorkRefused(_("该作品已登记上线"))
            for name, value in changes.items():
                setattr(locked, name, value)
            locked.screenshot = path
            locked.screenshot_name = screenshot.original_name[:120]
            locked.screenshot_mime = screenshot.mime
            locked.screenshot_sha256 = screenshot.sha256
            locked.screenshot_size = len(screenshot.content)
            locked.launched_by = actor
            locked.launched_at = now
            locked.save()
            found = figures(locked, today)
            offer = Offer.objects.create(
                work=locked,
                estimate=found.estimate,
                base=found.base,
                breakdown=found.breakdown,
                evidence=found.evidence,
                missing=found.missing,
                lines=[h.as_dict() for h in found.lines],
                apply_by=found.apply_by.date,
                apply_by_provisional=found.apply_by.provisional,
                created_at=now,
            )
            record_use(delegation, Right.PREPARE, actor=actor, obj=locked, request=request)
            record_event(
                "work.launch",
                actor=actor,
                obj=locked,
                after={
                    **{k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in changes.items()},
                    "screenshot_sha256": screenshot.sha256,
                },
                enterprise_id=locked.enterprise_id,
                request=request,
            )
            record_event(
                "offer.push",
                actor=None,
                obj=offer,
                after={
                    "work": locked.reference,
                    "estimate_amount": format_money(offer.estimate),
                    "base_amount": format_money(offer.base),
                    "lines": len(found.lines),
                    "leaves": [h.leaf_index for h in found.lines],
                    "apply_by": offer.apply_by.isoformat(),
                    "provisional": offer.apply_by_provisional,
                },
                enterprise_id=locked.enterprise_id,
                request=request,
            )
            transaction.on_commit(lambda: notify_offer(offer), robust=True)
    return offer


def locked_offer(offer: Offer) -> Offer:
    return Offer.objects.select_for_update().select_related("work", "work__enterprise").get(pk=offer.pk)


def _money(value: Decimal | None) -> Decimal | None:
    """Money cells of the exports carry two decimals (the lines themselves keep their precision)."""
    return round_half_up(value) if value is not None else None


def _detail_xlsx(lines: Iterable[HeldLine]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = _("算力消耗明细")
    headers = [
        _("行号"), _("日志叶序号"), _("来源"), _("提供方"), _("类型"), _("厂商"), _("模型或规格"), _("任务编号"),
        _("日期"), _("用量"), _("单位"), _("优惠券抵扣（元）"), _("算力券抵扣（元）"), _("应付金额（元）"),
        _("实付金额（元）"), _("发票号码"), _("行 SHA-256"),
    ]  # fmt: skip
    write_sheet(
        sheet,
        [str(h) for h in headers],
        (
            [
                h.line.line_number,
                h.leaf_index,
                str(SOURCES.get(h.line.source, h.line.source)),
                h.provider,
                str(KINDS.get(h.line.kind, h.line.kind)),
                h.line.vendor,
                h.line.sku,
                h.line.task_id,
                h.line.day.isoformat() if h.line.day else "",
                h.line.quantity,
                unit_label(h.line.unit),
                _money(h.line.coupon),
                _money(h.line.voucher),
                _money(h.line.payable),
                _money(h.line.paid),
                h.line.invoice_no,
                h.line.raw_sha256,
            ]  # fmt: skip
            for h in lines
        ),
    )
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _usage_log_pdf(work: Work, lines: list[HeldLine], base_text: str) -> bytes:
    from core.signing import render_signed_pdf

    html = render_to_string(
        "review/offers/usage_log_pdf.html",
        {"work": work, "lines": lines, "base_text": base_text, "generated_at": timezone.localtime()},
    )
    return render_signed_pdf(html, reason=_("平台生成的算力平台使用日志"))


def _platform_material(
    application: Application,
    kind: str,
    content: bytes,
    mime: str,
    name: str,
    actor: User,
    *,
    paths: list[str],
) -> Material:
    extension = {
        XLSX_CONTENT_TYPE: "xlsx",
        "application/pdf": "pdf",
        "image/png": "png",
        "image/jpeg": "jpg",
    }[mime]
    path = default_storage.save(
        generated_path("materials", extension, timezone.localdate()), ContentFile(content)
    )
    paths.append(path)
    return Material.objects.create(
        application=application,
        kind=kind,
        file=path,
        original_name=name[:120],
        mime=mime,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        flags=[str(_("平台生成"))],
        uploaded_by=actor,
    )


def accept_offer(offer: Offer, *, actor: User, request: HttpRequest | None = None) -> Application:
    """One step: the offer opens an application prefilled from the enterprise (rows 1–9), the work
    (rows 10–16) and the platform's own lines (rows 21–23, the consumption detail and the usage log,
    each line with its log leaf index); the launch screenshot is its launch proof."""
    if actor.enterprise_id != offer.work.enterprise_id:
        raise PermissionDenied
    paths: list[str] = []
    try:
        with batch():
            locked = locked_offer(offer)
            if locked.status != Offer.Status.PENDING:
                raise WorkRefused(
                    _("该补助推送已处理（%(status)s）") % {"status": locked.get_status_display()}
                )
            today = timezone.localdate()
            if today > locked.apply_by:
                raise WorkRefused(_("已超过申报截止日 %(day)s") % {"day": chinese_date(locked.apply_by)})
            work = locked.work
            found = figures(work, today)
            application = actions.create_draft(actor=actor, request=request)
            providers = list(dict.fromkeys(h.provider for h in found.lines))
            rows: dict[str, Any] = {
                "work_title": work.title,
                "filing_number": work.filing_number,
                "work_minutes": work.work_minutes,
                "platform_name": work.platforms,
                "launch_date": work.launch_date,
                "launch_proof_number": (_("上线登记 %(ref)s") % {"ref": work.reference})[:100],
                "overseas": False,
                "compute_minutes": work.work_minutes,
            }
            if providers:
                rows["provider_name"] = "、".join(providers)[:100]
            if found.base > 0:
                rows["total_compute_cost"] = found.base
            application = actions.update_draft(application, rows, actor=actor, request=request)
            lines = [h.line for h in found.lines]
            if lines:
                detail = _platform_material(
                    application,
                    MaterialKind.CONSUMPTION_DETAIL,
                    _detail_xlsx(found.lines),
                    XLSX_CONTENT_TYPE,
                    _("算力消耗明细-%(ref)s.xlsx") % {"ref": work.reference},
                    actor,
                    paths=paths,
                )
                save_lines(
                    application,
                    detail,
                    FileResult(
                        file_name=detail.original_name,
                        format=PLATFORM_FORMAT,
                        lines=lines,
                        records=len(lines),
                    ),
                )
                _platform_material(
                    application,
                    MaterialKind.USAGE_LOG,
                    _usage_log_pdf(work, found.lines, str(found.breakdown.get("base_text", ""))),
                    "application/pdf",
                    _("算力平台使用日志-%(ref)s.pdf") % {"ref": work.reference},
                    actor,
                    paths=paths,
                )
            if work.screenshot:
                with default_storage.open(work.screenshot, "rb") as handle:
                    content = handle.read()
                _platform_material(
                    application, MaterialKind.LAUNCH_PROOF, content, work.screenshot_mime, work.screenshot_name,
                    actor, paths=paths,
                )  # fmt: skip
            locked.status = Offer.Status.ACCEPTED
            locked.application = application
            locked.decided_at = timezone.now()
            locked.save(update_fields=["status", "application", "decided_at"])
            record_event(
                "offer.accept",
                actor=actor,
                obj=locked,
                after={
                    "application_id": application.pk,
                    "lines": len(lines),
                    "base_amount": format_money(found.base),
                },
                enterprise_id=work.enterprise_id,
                request=request,
            )
    except BaseException:
        for path in paths:
            default_storage.delete(path)
        raise
    return application


def confirm_offer(
    application: Application, *, actor: User, request: HttpRequest | None = None
) -> Application:
    """The enterprise confirms: row 26 is signed by the actor (refused without the signing right), the
    application is submitted by the one submission action, and the final 申请表 — its application
    number, the declaration and who confirmed — is generated and sealed by the platform."""
    if not Offer.objects.filter(application_id=application.pk).exists():
        raise WorkRefused(_("该申请不是由补助推送生成的"))
    paths: list[str] = []
    try:
        with batch():
            changes: dict[str, Any] = {"declaration_accepted": True, "signer_name": str(actor)[:50]}
            # Row 23 follows the detail in force: the platform's lines and any the enterprise declared
            # for usage no provider reported (docs/usage-formats.md, the one base rule).
            base = base_on(Application.objects.get(pk=application.pk), timezone.localdate()).total
            if base > 0:
                changes["total_compute_cost"] = base
            signed = actions.update_draft(application, changes, actor=actor, request=request)
            submitted = actions.submit_application(signed, actor=actor, request=request)
            form = _platform_material(
                submitted,
                MaterialKind.APPLICATION_FORM,
                render_application_pdf(submitted),
                "application/pdf",
                _("申请表-%(reference)s.pdf") % {"reference": submitted.reference},
                actor,
                paths=paths,
            )
            form.locked = True
            form.save(update_fields=["locked"])
            record_event(
                "offer.confirm",
                actor=actor,
                obj=submitted,
                after={"reference": submitted.reference, "form_sha256": form.sha256},
                request=request,
            )
    except BaseException:
        for path in paths:
            default_storage.delete(path)
        raise
    return submitted


def decline_offer(
    offer: Offer, *, actor: User, reason: str = "", request: HttpRequest | None = None
) -> Offer:
    """The enterprise declines the offer; the work stays registered."""
    delegation = require_enterprise_right(actor, offer.work.enterprise_id, Right.SUBMIT, request)
    with durable():
        locked = locked_offer(offer)
        if locked.status != Offer.Status.PENDING:
            raise WorkRefused(_("该补助推送已处理（%(status)s）") % {"status": locked.get_status_display()})
        locked.status = Offer.Status.DECLINED
        locked.decline_reason = (reason or "").strip()[:500]
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "decline_reason", "decided_at"])
        record_use(delegation, Right.SUBMIT, actor=actor, obj=locked, request=request)
        record_event(
            "offer.decline",
            actor=actor,
            obj=locked,
            after={"reason": locked.decline_reason},
            enterprise_id=locked.work.enterprise_id,
            request=request,
        )
    return locked
