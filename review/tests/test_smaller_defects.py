"""Defects found by walking every role: each fixed as a person would expect to read it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import time_machine
from django.urls import reverse

from applications.states import Status
from review import actions
from review.tests.helpers import ReviewTestCase
from testing.fixtures import make_application

BEIJING = dt.timezone(dt.timedelta(hours=8))


class OverdueWordingTests(ReviewTestCase):
    def test_it_says_overdue_by_n_working_days_never_a_negative_count(self) -> None:
        with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=BEIJING), tick=False):
            app = make_application(self.enterprise, self.alice, Status.SUBMITTED)
            actions.claim_application(app, actor=self.reviewer)
        with time_machine.travel(dt.datetime(2026, 7, 1, 9, 0, tzinfo=BEIJING), tick=False):
            self.login(self.reviewer)
            for url in (reverse("review:detail", args=[app.pk]), reverse("review:workbench")):
                page = self.client.get(url).content.decode()
                self.assertRegex(page, r"已逾期 \d+ 个工作日", url)
                self.assertNotRegex(page, r"剩余 -\d|>-\d+<", url)


class ProvisionalMarkTests(ReviewTestCase):
    def test_it_marks_the_2027_cycle_deadline_provisional_on_the_review_page_not_the_2026_one(self) -> None:
        # Received in mid-December 2026: the review deadline falls in 2026 (official), the cycle
        # deadline in 2027 (no official schedule yet, 暂定).
        with time_machine.travel(dt.datetime(2026, 12, 7, 9, 0, tzinfo=BEIJING), tick=False):
            app = make_application(self.enterprise, self.alice, Status.SUBMITTED)
            actions.claim_application(app, actor=self.reviewer)
            self.login(self.reviewer)
            page = self.client.get(reverse("review:detail", args=[app.pk])).content.decode()
        clock = page.split('id="clock"', 1)[1].split("</dl>", 1)[0]
        review_row, cycle_row = clock.split("兑现周期截止", 1)
        review_row = review_row.split("审核期限", 1)[1]
        self.assertIn("2026年12月", review_row)
        self.assertNotIn("暂定", review_row)
        self.assertIn("2027年", cycle_row)
        self.assertIn("暂定", cycle_row)


class CalculatorProvisionalTests(ReviewTestCase):
    def test_it_marks_the_calculators_2027_apply_deadline_provisional(self) -> None:
        with time_machine.travel(dt.datetime(2026, 12, 5, 9, 0, tzinfo=BEIJING), tick=False):
            page = self.client.get(
                reverse("policy:calc"), {"cost": "50000", "minutes": "60", "launch_date": "2026-12-01"}
            ).content.decode()
        deadline = page.split('id="apply-deadline"', 1)[1].split("</p>", 1)[0]
        self.assertIn("2027年", deadline)
        self.assertIn("暂定", deadline)


class PhoneTests(ReviewTestCase):
    def test_it_prefills_the_forms_phones_in_the_national_format(self) -> None:
        app = make_application(self.enterprise, self.alice, Status.DRAFT, legal_rep_phone="+861069681234")
        self.login(self.alice)
        page = self.client.get(reverse("applications:step", args=[app.pk, "enterprise"])).content.decode()
        self.assertNotIn('value="+86', page)
        self.assertIn('value="010-69681234"', page)
        self.assertIn('value="13900139000"', page)

    def test_it_sends_no_text_message_to_a_landline_and_masks_a_landline_by_its_area_code(self) -> None:
        from core.models import Notification
        from core.notifications import send_sms
        from core.validators import mask_phone

        self.alice.phone = "010-69681234"
        self.alice.save(update_fields=["phone"])
        self.assertEqual(
            send_sms([self.alice], Notification.Kind.DATA_NOTICE, "【影都算力补助】明天前提出。"), []
        )
        self.assertEqual(mask_phone("+861069681234"), "010-****1234")
        self.assertEqual(mask_phone("+8613911112222"), "139****2222")


class LandingTests(ReviewTestCase):
    def test_it_sends_staff_to_their_workbench_after_login(self) -> None:
        from testing.fixtures import PASSWORD

        response = self.client.post(
            reverse("accounts:login"), {"username": self.reviewer.username, "password": PASSWORD}
        )
        self.assertEqual(response.status_code, 302)
        self.assertEqual(response["Location"], reverse("workbench"))


class PublicProgressTests(ReviewTestCase):
    def test_it_shows_the_public_only_the_steps_of_the_case_not_uploads_or_downloads(self) -> None:
        from ledger.actions import record_event

        with time_machine.travel(dt.datetime(2026, 3, 2, 10, 0, tzinfo=BEIJING), tick=False):
            app = make_application(self.enterprise, self.alice, Status.SUBMITTED)
            record_event("application.submit", actor=self.alice, obj=app, after={"status": Status.SUBMITTED})
            for n in range(3):
                record_event(
                    "application.material_upload", actor=self.alice, obj=app, after={"name": f"日志{n}.pdf"}
                )
            actions.claim_application(app, actor=self.reviewer)
            page = self.client.post(
                reverse("progress_query"), {"reference": app.reference, "uscc": self.enterprise.uscc}
            ).content.decode()
        steps = page.split('<ol class="steps">', 1)[1].split("</ol>", 1)[0]
        self.assertIn("提交申报", steps)
        self.assertIn("受理并开始初审", steps)
        self.assertNotIn("上传材料", steps)


class ActionLinkTests(ReviewTestCase):
    def test_it_offers_the_verify_action_on_a_pending_enterprises_page(self) -> None:
        from enterprises.models import Enterprise

        Enterprise.objects.filter(pk=self.enterprise.pk).update(status=Enterprise.Status.PENDING)
        self.login(self.reviewer)
        page = self.client.get(reverse("enterprises:detail", args=[self.enterprise.pk]))
        self.assertContains(page, f'href="{reverse("enterprises:verify", args=[self.enterprise.pk])}"')

    def test_it_opens_the_item_by_item_answer_page_from_the_applications_supplement_button(self) -> None:
        app = make_application(self.enterprise, self.alice, Status.SUPPLEMENT_REQUESTED)
        self.login(self.alice)
        page = self.client.get(reverse("applications:detail", args=[app.pk]))
        self.assertContains(page, f'href="{reverse("review:supplement", args=[app.pk])}"')


class WorkbenchFilterTests(ReviewTestCase):
    def test_it_offers_no_month_before_the_policy_began_and_prefills_the_ledger_period(self) -> None:
        with time_machine.travel(dt.datetime(2026, 12, 5, 9, 0, tzinfo=BEIJING), tick=False):
            self.login(self.reviewer)
            page = self.client.get(reverse("review:workbench")).content.decode()
        self.assertIn('value="2026-02"', page)
        self.assertNotIn('value="2026-01"', page)
        self.assertNotIn('value="2025-', page)
        self.assertIn('name="from" value="2026-02-05"', page)
        self.assertIn('name="to" value="2026-12-05"', page)


class ApprovalAmountTests(ReviewTestCase):
    def test_it_shows_the_approver_the_amount_approval_will_grant(self) -> None:
        app = make_application(self.enterprise, self.alice, Status.FINAL_APPROVAL)
        self.login(self.approver)
        page = self.client.get(reverse("review:detail", args=[app.pk])).content.decode()
        self.assertIn("审批通过将核定补贴金额：15,000.00 元", page)
        actions.approve_application(app, actor=self.approver, opinion="同意")
        self.assertEqual(app.granted_amount, Decimal("15000.00"))


class ReceiptDateTests(ReviewTestCase):
    def test_it_shows_a_saturday_receipt_with_the_monday_the_clock_starts(self) -> None:
        saturday = dt.datetime(2026, 12, 5, 10, 0, tzinfo=BEIJING)
        with time_machine.travel(saturday, tick=False):
            app = make_application(self.enterprise, self.alice, Status.SUBMITTED, submitted=saturday)
            self.login(self.reviewer)
            review_page = self.client.get(reverse("review:detail", args=[app.pk])).content.decode()
            self.login(self.alice)
            own_page = self.client.get(reverse("applications:detail", args=[app.pk])).content.decode()
        for page in (review_page, own_page):
            self.assertIn("2026年12月5日", page)
            self.assertIn("非工作日，时限自 2026年12月7日（星期一）起算", page)
