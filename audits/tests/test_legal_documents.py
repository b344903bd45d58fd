"""The data notice and the clawback decision carry their legal elements: the PDF (text extracted),
the inbox, the e-mail and the text message say the same deadline; the clawbacks list shows it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import ClassVar

import time_machine
from django.urls import reverse

from applications.models import AnnualGrant, Application
from applications.states import Status
from audits import findings, fraud
from audits.models import Clawback, DataNotice, Finding
from audits.tests.fixtures import make_application
from audits.tests.test_documents import pdf_text
from core.models import Notification, SmsMessage
from testing.fixtures import BaseTestCase

BEIJING = dt.timezone(dt.timedelta(hours=8))
AUTHORITY = "北京市怀柔区文化产业发展促进中心"


class LegalElementTests(BaseTestCase):
    app: ClassVar[Application]
    notice: ClassVar[DataNotice]
    clawback: ClassVar[Clawback]

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.alice.phone = "13911112222"
        cls.alice.save(update_fields=["phone"])
        cls.app = make_application(
            cls.enterprise,
            cls.alice,
            "京剧备字2026031号",
            cost="50000.00",
            work_minutes=100,
            status=Status.PAID,
            paid_at=dt.datetime(2026, 5, 10, tzinfo=BEIJING),
            granted="15000.00",
        )
        AnnualGrant.objects.create(
            enterprise=cls.enterprise, year=2026, total=Decimal("15000.00"), cap=Decimal("100000.00")
        )
        with (
            time_machine.travel(dt.datetime(2026, 6, 1, 9, 0, tzinfo=BEIJING), tick=False),
            cls.captureOnCommitCallbacks(execute=True),
        ):
            finding = findings.record_finding(
                cls.app,
                actor=cls.inspector,
                description="监控用量仅为申报的一半",
                source=Finding.Source.OTHER,
            )
            cls.notice = findings.send_data_notice(
                finding, actor=cls.inspector, text="申报成本五万元，监控费用两万五千元。"
            )
        with (
            time_machine.travel(dt.datetime(2026, 7, 1, 9, 0, tzinfo=BEIJING), tick=False),
            cls.captureOnCommitCallbacks(execute=True),
        ):
            finding = findings.decide_finding(
                finding, actor=cls.inspector, upheld=True, reasons="企业未提出异议，核查属实"
            )
            cls.clawback = fraud.claw_back(
                cls.app,
                Decimal("15000.00"),
                actor=cls.inspector,
                reason="虚报算力消耗，经核查属实",
                finding=finding,
            )

    def test_it_states_deadline_account_clause_and_remedies_in_the_clawback_decision_pdf(self) -> None:
        self.login(self.alice)
        text = pdf_text(self.client.get(reverse("audits:clawback_pdf", args=[self.clawback.pk])).content)
        # 15 working days after Wednesday 1 July 2026 (deadline.repayment_workdays).
        for words in (
            "缴回期限",
            "2026年7月22日",
            "收款账号",
            "010900000000000000",
            "五4",
            "60日内",
            "行政复议",
            "6个月内",
            "行政诉讼",
            "15,000.00",
            AUTHORITY,
        ):
            self.assertIn(words, text)

    def test_it_states_deadline_clause_and_remedies_in_the_data_notice_pdf(self) -> None:
        self.login(self.alice)
        text = pdf_text(self.client.get(reverse("audits:notice_pdf", args=[self.notice.pk])).content)
        # 5 working days after Monday 1 June 2026 (五 3).
        for words in (
            "异议截止日期",
            "2026年6月8日",
            "五2",
            "五3",
            "60日内",
            "6个月内",
            "行政诉讼",
            AUTHORITY,
        ):
            self.assertIn(words, text)

    def test_it_tells_the_repayment_deadline_in_the_inbox_email_and_text_message(self) -> None:
        inbox = Notification.objects.get(user=self.alice, kind=Notification.Kind.CLAWBACK)
        for words in ("缴回期限：2026年7月22日", "收款账号", "行政复议"):
            self.assertIn(words, inbox.body)
        sms = SmsMessage.objects.get(user=self.alice, kind=Notification.Kind.CLAWBACK)
        self.assertIn("2026年7月22日", sms.text)
        notice = Notification.objects.get(user=self.alice, kind=Notification.Kind.DATA_NOTICE)
        self.assertIn("异议截止日期：2026年6月8日", notice.body)

    def test_it_shows_the_repayment_deadline_on_the_clawbacks_list(self) -> None:
        self.login(self.finance)
        page = self.client.get(reverse("audits:clawbacks"))
        self.assertContains(page, "缴回期限")
        self.assertContains(page, "2026年7月22日")

    def test_it_names_the_clause_and_the_remedies_on_the_enterprises_notice_page(self) -> None:
        self.login(self.alice)
        page = self.client.get(reverse("audits:notice", args=[self.notice.pk])).content.decode()
        self.assertIn("《智能影像算力补助实施办法》五 2、五 3", page)
        self.assertIn("60日内", page)
