"""Payment instructions (支付申请, docs/payments.md): finance batches approved applications, each paid to the
enterprise's verified 对公账户, and exports the batch as XLSX, a signed PDF and CSV for the
budget-management system; the payment recorded for an item refers to its instruction.

- :func:`submit_payee_account` — the enterprise states its account (a change is a new row);
- :func:`verify_payee_account` — staff verify or reject it, like the licence;
- :func:`payee_refusal` — why an application cannot be paid yet (no account, not verified, name differs,
  bad 联行号); ``None`` when it can;
- :func:`create_instruction` — a batch, refused with each application's reason;
- :func:`instruction_xlsx`, :func:`instruction_pdf`, :func:`instruction_csv` — the exports;
- :func:`record_item_payment` — the payment of one item through the one payment action.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import STAFF_ROLES, Role
from applications.models import Application
from applications.states import Status
from core.lib.money import format_money
from core.refusals import Refused
from core.transactions import batch, durable
from enterprises.models import Enterprise, Right
from enterprises.permissions import RightRefused, require_right
from ledger.actions import record_event
from review.actions import record_payment
from review.models import PayeeAccount, Payment, PaymentInstruction, PaymentInstructionItem

BANK_CODE = re.compile(r"\d{12}")
ACCOUNT_NUMBER = re.compile(r"\d{8,32}")

# The CSV for the budget-management system: columns in this order, UTF-8 with a BOM, CRLF lines.
CSV_COLUMNS = (
    ("instruction", "支付申请编号"),  # i18n: data
    ("line", "序号"),  # i18n: data
    ("reference", "申报编号"),  # i18n: data
    ("enterprise", "企业名称"),  # i18n: data
    ("uscc", "统一社会信用代码"),  # i18n: data
    ("account_name", "收款户名"),  # i18n: data
    ("account_number", "收款账号"),  # i18n: data
    ("bank_name", "开户行"),  # i18n: data
    ("bank_code", "联行号"),  # i18n: data
    ("amount", "金额（元）"),  # i18n: data
    ("budget_line", "预算项目"),  # i18n: data
    ("purpose", "用途"),  # i18n: data
)


class PaymentRefused(Refused):
    status = 422
    code = "payment_refused"


def _problems(problems: dict[str, list[str]]) -> PaymentRefused:
    return PaymentRefused(problems)


def account_problems(
    enterprise: Enterprise, account_name: str, account_number: str, bank_code: str
) -> list[str]:
    """The rules of a payee account (pure apart from the enterprise's name)."""
    problems = []
    if account_name.strip() != enterprise.name:
        problems.append(
            _("户名“%(name)s”与企业名称“%(enterprise)s”不一致，补助只付至企业本身的对公账户")
            % {"name": account_name.strip(), "enterprise": enterprise.name}
        )
    if not ACCOUNT_NUMBER.fullmatch(account_number.strip()):
        problems.append(_("账号应为 8 至 32 位数字"))
    if not BANK_CODE.fullmatch(bank_code.strip()):
        problems.append(_("联行号应为 12 位数字"))
    return problems


def submit_payee_account(
    enterprise: Enterprise,
    *,
    actor: User,
    account_name: str,
    account_number: str,
    bank_name: str,
    bank_code: str,
    request: HttpRequest | None = None,
) -> PayeeAccount:
    """The enterprise states its 对公账户; it is paid to only once staff verify it."""
    if not actor.has_role(Role.APPLICANT) or actor.enterprise_id != enterprise.pk:
        raise PermissionDenied
    try:
        require_right(actor, enterprise.pk, Right.SUBMIT, request=request)
    except RightRefused as exc:
        raise PaymentRefused(exc.message) from exc
    problems = account_problems(enterprise, account_name, account_number, bank_code)
    if not bank_name.strip():
        problems.append(_("请填写开户行"))
    if problems:
        raise _problems({"account": problems})
    with durable():
        account = PayeeAccount.objects.create(
            enterprise=enterprise,
            account_name=account_name.strip(),
            account_number=account_number.strip(),
            bank_name=bank_name.strip()[:100],
            bank_code=bank_code.strip(),
            submitted_by=actor,
            submitted_at=timezone.now(),
        )
        record_event(
            "payee.submit",
            actor=actor,
            obj=account,
            after={"account_number": account.account_number, "bank_code": account.bank_code},
            enterprise_id=enterprise.pk,
            request=request,
        )
    return account


def verify_payee_account(
    account: PayeeAccount, *, actor: User, approve: bool, note: str = "", request: HttpRequest | None = None
) -> PayeeAccount:
    """Staff verify (or reject, with a note) an account against the enterprise's bank certificate."""
    if not actor.has_role(*STAFF_ROLES):
        raise PermissionDenied
    with durable():
        locked = PayeeAccount.objects.select_for_update().select_related("enterprise").get(pk=account.pk)
        if locked.status != PayeeAccount.Status.PENDING:
            raise PaymentRefused(_("该账户已核验过"))
        if approve:
            problems = account_problems(
                locked.enterprise, locked.account_name, locked.account_number, locked.bank_code
            )
            if problems:
                raise _problems({"account": problems})
        elif not note.strip():
            raise PaymentRefused(_("请填写不予核验的原因"))
        locked.status = PayeeAccount.Status.VERIFIED if approve else PayeeAccount.Status.REJECTED
        locked.note = note.strip()[:300]
        locked.verified_by = actor
        locked.verified_at = timezone.now()
        locked.save(update_fields=["status", "note", "verified_by", "verified_at"])
        record_event(
            "payee.verify",
            actor=actor,
            obj=locked,
            after={"status": locked.status, "note": locked.note},
            enterprise_id=locked.enterprise_id,
            request=request,
        )
    return locked


def latest_account(enterprise_id: int) -> PayeeAccount | None:
    return PayeeAccount.objects.filter(enterprise_id=enterprise_id).order_by("-submitted_at", "-id").first()


def verified_account(enterprise_id: int) -> PayeeAccount | None:
    """The payee: the latest account the enterprise stated, if staff verified it."""
    latest = latest_account(enterprise_id)
    return latest if latest is not None and latest.status == PayeeAccount.Status.VERIFIED else None


def payee_refusal(application: Application) -> str | None:
    """Why ``application`` cannot go into a payment instruction; ``None`` when it can."""
    if application.status != Status.APPROVED:
        return _("申请状态为“%(status)s”，只有已审批的申请可以列入支付申请") % {
            "status": application.get_status_display()
        }
    if PaymentInstructionItem.objects.filter(application=application).exists():
        return _("已列入支付申请")
    latest = latest_account(application.enterprise_id)
    if latest is None:
        return _("企业尚未提交对公收款账户")
    if latest.status == PayeeAccount.Status.PENDING:
        return _("对公收款账户（%(bank)s %(number)s）尚待区文促中心核验") % {
            "bank": latest.bank_name,
            "number": latest.account_number,
        }
    if latest.status == PayeeAccount.Status.REJECTED:
        return _("对公收款账户未通过核验：%(note)s") % {"note": latest.note or _("未说明")}
    problems = account_problems(
        application.enterprise, latest.account_name, latest.account_number, latest.bank_code
    )
    return "；".join(problems) or None


def create_instruction(
    applications: Sequence[Application], *, actor: User, budget_line: str, request: HttpRequest | None = None
) -> PaymentInstruction:
    """Finance batches approved applications into one instruction; refused, naming each application and
    its reason, when any cannot be paid to a verified account."""
    if not actor.has_role(Role.FINANCE):
        raise PermissionDenied
    if not applications:
        raise PaymentRefused(_("请选择要列入支付申请的申请"))
    if not budget_line.strip():
        raise PaymentRefused(_("请填写预算项目"))
    with durable():
        locked = list(
            Application.objects.select_for_update()
            .select_related("enterprise")
            .filter(pk__in=[a.pk for a in applications])
            .order_by("pk")
        )
        problems: dict[str, list[str]] = {}
        for app in locked:
            reason = payee_refusal(app)
            if reason:
                problems.setdefault("applications", []).append(
                    _("%(ref)s（%(name)s）：%(reason)s")
                    % {"ref": app.reference, "name": app.enterprise_name, "reason": reason}
                )
        if problems:
            raise _problems(problems)
        now = timezone.now()
        instruction = PaymentInstruction.objects.create(
            budget_line=budget_line.strip()[:100],
            total=sum((app.granted_amount or Decimal(0) for app in locked), Decimal("0.00")),
            created_by=actor,
            created_at=now,
        )
        instruction.number = f"ZF{timezone.localdate(now).year}-{instruction.pk:05d}"
        instruction.save(update_fields=["number"])
        for app in locked:
            payee = verified_account(app.enterprise_id)
            assert payee is not None and app.granted_amount is not None
            PaymentInstructionItem.objects.create(
                instruction=instruction, application=app, payee=payee, amount=app.granted_amount
            )
        record_event(
            "payment_instruction.create",
            actor=actor,
            obj=instruction,
            after={
                "number": instruction.number,
                "total_amount": format_money(instruction.total),
                "applications": [app.reference for app in locked],
                "budget_line": instruction.budget_line,
            },
            request=request,
        )
    return instruction


def rows(instruction: PaymentInstruction) -> list[dict[str, Any]]:
    """The instruction's lines, as every export writes them."""
    out = []
    items = instruction.items.select_related("application", "payee").order_by("pk")
    for line, item in enumerate(items, start=1):
        app = item.application
        out.append(
            {
                "instruction": instruction.number,
                "line": line,
                "reference": app.reference,
                "enterprise": app.enterprise_name,
                "uscc": app.uscc,
                "account_name": item.payee.account_name,
                "account_number": item.payee.account_number,
                "bank_name": item.payee.bank_name,
                "bank_code": item.payee.bank_code,
                "amount": item.amount,
                "budget_line": instruction.budget_line,
                "purpose": _("影都AI算力补助 %(ref)s") % {"ref": app.reference},
            }
        )
    return out


def instruction_csv(instruction: PaymentInstruction) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([label for _key, label in CSV_COLUMNS])
    for row in rows(instruction):
        writer.writerow([f"{row[key]:.2f}" if key == "amount" else row[key] for key, _label in CSV_COLUMNS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def instruction_xlsx(instruction: PaymentInstruction) -> bytes:
    from openpyxl import Workbook

    from core.xlsx import write_sheet

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = _("支付申请")
    write_sheet(
        sheet,
        [label for _key, label in CSV_COLUMNS],
        ([row[key] for key, _label in CSV_COLUMNS] for row in rows(instruction)),
    )
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def instruction_pdf(instruction: PaymentInstruction) -> bytes:
    from core.signing import render_signed_pdf

    html = render_to_string(
        "review/payments/instruction_pdf.html",
        {"instruction": instruction, "rows": rows(instruction), "generated_at": timezone.localtime()},
    )
    return render_signed_pdf(html, reason=_("区文促中心支付申请"))


def record_item_payment(
    item: PaymentInstructionItem,
    *,
    date: dt.date,
    bank_reference: str,
    actor: User,
    request: HttpRequest | None = None,
) -> Payment:
    """Record the payment of one instruction item through the one payment action, referring to it."""
    with batch():
        locked = (
            PaymentInstructionItem.objects.select_for_update().select_related("application").get(pk=item.pk)
        )
        if locked.payment_id is not None:
            raise PaymentRefused(_("该笔已登记兑现"))
        payment = record_payment(
            locked.application, date=date, amount=locked.amount, bank_reference=bank_reference, actor=actor,
            request=request,
        )  # fmt: skip
        locked.payment = payment
        locked.save(update_fields=["payment"])
        record_event(
            "payment_instruction.paid",
            actor=actor,
            obj=locked.instruction,
            after={"item": locked.pk, "payment_id": payment.pk, "reference": locked.application.reference},
            request=request,
        )
    return payment


def approved_without_instruction() -> QuerySet[Application]:
    return Application.objects.filter(status=Status.APPROVED, payment_instruction_item__isnull=True).order_by(
        "pk"
    )
