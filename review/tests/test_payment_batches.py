"""Payment instructions (docs/payments.md): approved applications batched by finance, paid to verified
对公账户, exported as XLSX, a signed PDF and CSV; an unverified payee is refused with its reason."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import time_machine
from openpyxl import load_workbook

from accounts.roles import Role
from applications.states import Status
from review import payment_batches as batches
from review.models import PayeeAccount
from testing.fixtures import BaseTestCase, make_enterprise, make_user, pades_status
from testing.fixtures import make_application as build_application

TODAY = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@time_machine.travel(TODAY, tick=False)
class PaymentInstructionTests(BaseTestCase):
    def approved(self, enterprise, user, granted: str):  # type: ignore[no-untyped-def]
        return build_application(
            enterprise, user, Status.APPROVED, granted_amount=Decimal(granted), approved_at=TODAY
        )

    def account(self, enterprise, user, *, verify: bool = True, name: str | None = None):  # type: ignore[no-untyped-def]
        account = batches.submit_payee_account(
            enterprise,
            actor=user,
            account_name=name or enterprise.name,
            account_number="110060149018000123",
            bank_name="交通银行北京怀柔支行",
            bank_code="301100000140",
        )
        return batches.verify_payee_account(account, actor=self.reviewer, approve=True) if verify else account

    def test_a_batch_of_three_approved_applications_exports_xlsx_signed_pdf_and_csv_with_verified_accounts(
        self,
    ) -> None:
        third = make_enterprise("怀柔光影动画有限公司")
        carol = make_user("carol", Role.APPLICANT, enterprise=third, display_name="赵六")
        apps = [
            self.approved(self.enterprise, self.alice, "15000.00"),
            self.approved(self.other_enterprise, self.bob, "8000.50"),
            self.approved(third, carol, "300.00"),
        ]
        for enterprise, user in (
            (self.enterprise, self.alice),
            (self.other_enterprise, self.bob),
            (third, carol),
        ):
            self.account(enterprise, user)
        instruction = batches.create_instruction(
            apps, actor=self.finance, budget_line="2026年文化产业发展专项"
        )
        assert instruction.total == Decimal("23300.50")
        assert instruction.number and instruction.number.startswith("ZF2026-")

        text = batches.instruction_csv(instruction).decode("utf-8-sig")
        table = list(csv.reader(io.StringIO(text)))
        assert table[0][:3] == ["支付申请编号", "序号", "申报编号"]
        assert len(table) == 4
        assert {row[5] for row in table[1:]} == {self.enterprise.name, self.other_enterprise.name, third.name}
        assert all(row[8] == "301100000140" for row in table[1:])
        assert [row[9] for row in table[1:]] == ["15000.00", "8000.50", "300.00"]

        sheet = load_workbook(io.BytesIO(batches.instruction_xlsx(instruction))).active
        assert sheet is not None
        values = [[cell.value for cell in row] for row in sheet.iter_rows()]
        assert values[1][2] == apps[0].reference and len(values) == 4

        pdf = batches.instruction_pdf(instruction)
        status = pades_status(pdf)
        assert status.intact and status.valid and status.trusted

        payment = batches.record_item_payment(
            instruction.items.get(application=apps[0]),
            date=TODAY.date(),
            bank_reference="BK-1",
            actor=self.finance,
        )
        assert payment.instruction_item.instruction == instruction

    def test_a_payee_account_not_verified_is_refused_with_its_reason(self) -> None:
        first = self.approved(self.enterprise, self.alice, "1000.00")
        second = self.approved(self.other_enterprise, self.bob, "2000.00")
        self.account(self.enterprise, self.alice)
        self.account(self.other_enterprise, self.bob, verify=False)
        with self.assertRaises(batches.PaymentRefused) as refused:
            batches.create_instruction([first, second], actor=self.finance, budget_line="专项")
        message = str(refused.exception)
        assert second.reference in message and "尚待区文促中心核验" in message
        assert first.reference not in message

    def test_an_account_whose_name_differs_from_the_enterprise_is_refused(self) -> None:
        with self.assertRaises(batches.PaymentRefused) as refused:
            self.account(self.enterprise, self.alice, name="某某个人")
        assert "与企业名称" in str(refused.exception)
        assert not PayeeAccount.objects.exists()


@time_machine.travel(TODAY, tick=False)
class PaymentPageTests(BaseTestCase):
    def test_the_enterprise_states_its_account_staff_verify_it_and_finance_batches_and_exports_it(
        self,
    ) -> None:
        from django.urls import reverse

        app = build_application(
            self.enterprise, self.alice, Status.APPROVED, granted_amount=Decimal("900.00"), approved_at=TODAY
        )
        self.login(self.alice)
        response = self.client.post(
            reverse("review:my_account"),
            {
                "account_name": self.enterprise.name,
                "account_number": "110060149018000123",
                "bank_name": "交通银行北京怀柔支行",
                "bank_code": "30110000014",
            },
        )
        assert response.status_code == 422 and "联行号应为 12 位数字" in response.content.decode()
        self.client.post(
            reverse("review:my_account"),
            {
                "account_name": self.enterprise.name,
                "account_number": "110060149018000123",
                "bank_name": "交通银行北京怀柔支行",
                "bank_code": "301100000140",
            },
        )
        account = PayeeAccount.objects.get()
        self.login(self.finance)
        page = self.client.get(reverse("review:payment_instructions")).content.decode()
        assert "尚待区文促中心核验" in page
        self.login(self.reviewer)
        self.client.post(reverse("review:payee_accounts"), {"account": account.pk, "decision": "verify"})
        self.login(self.finance)
        response = self.client.post(
            reverse("review:payment_instructions"), {"application": [app.pk], "budget_line": "专项"}
        )
        assert response.status_code == 302
        instruction = app.payment_instruction_item.instruction
        for fmt, kind in (("xlsx", "spreadsheetml"), ("csv", "text/csv"), ("pdf", "application/pdf")):
            got = self.client.get(reverse("review:payment_instruction_export", args=[instruction.pk, fmt]))
            assert got.status_code == 200 and kind in got["Content-Type"]
        response = self.client.post(
            reverse("review:payment_instruction", args=[instruction.pk]),
            {"item": instruction.items.get().pk, "date": "2026-06-15", "bank_reference": "BK-9"},
        )
        assert response.status_code == 302
        app.refresh_from_db()
        assert app.status == Status.PAID
