"""The review page, the on-site check and the printed approval form."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from applications.models import MaterialKind
from applications.states import Status
from ledger.models import AuditEvent
from review import actions
from review.models import OnSiteCheck
from review.tests.helpers import ReviewTestCase, add_material
from review.transitions import ReviewError
from testing.fixtures import make_application, pdf_bytes, png_bytes, upload


class ReviewPageTests(ReviewTestCase):
    def setUp(self) -> None:
        self.app = make_application(
            self.enterprise,
            self.alice,
            Status.SUBMITTED,
            work_title="星河入梦",
            filing_number="京剧备字2026-0501",
        )
        add_material(self.app, MaterialKind.USAGE_LOG, user=self.alice)
        actions.claim_application(self.app, actor=self.reviewer, opinion="已受理")

    def page(self, user: User | None = None) -> Any:
        self.login(user or self.reviewer)
        return self.client.get(reverse("review:detail", args=[self.app.pk]))

    def test_it_shows_every_row_the_materials_and_the_calculation(self) -> None:
        response = self.page()
        for text in (
            "1. 企业名称",
            "星河入梦",
            "23. 总算力成本金额（元）",
            "25. 申请算力服务支持金额（元）",
            "26. 声明",
        ):
            self.assertContains(response, text)
        self.assertContains(response, "算力平台使用日志")
        self.assertContains(
            response, reverse("applications:material_view", args=[self.app.pk, self.app.materials.get().pk])
        )
        self.assertContains(response, "总算力成本 50,000.00 元 × 补助比例 30%")
        self.assertContains(response, "138****8000")
        self.assertNotContains(response, "13800138000")

    def test_it_shows_the_history_and_the_buttons_the_user_may_take(self) -> None:
        response = self.page()
        self.assertContains(response, "受理并开始初审")
        self.assertContains(response, "已受理")
        self.assertContains(response, 'id="do-pass_initial"')
        self.assertContains(response, 'id="do-reject_initial"')
        self.assertContains(response, 'id="supplement-builder"')
        self.assertNotContains(response, 'id="do-approve"')
        head_page = self.page(self.head)
        self.assertNotContains(head_page, 'id="do-pass_initial"')
        self.assertNotContains(head_page, 'id="supplement-builder"')

    def test_it_shows_the_checks_the_platform_ran(self) -> None:
        make_application(self.other_enterprise, self.bob, Status.REJECTED, filing_number="京剧备字2026-0501")
        response = self.page()
        self.assertContains(response, "办理时限")
        self.assertContains(response, "备案编号重复")
        self.assertContains(response, "其他申请使用同一备案编号")
        self.assertContains(response, "算力消耗明细合计")

    def test_it_shows_the_year_to_date_grants_of_the_enterprise(self) -> None:
        make_application(
            self.enterprise, self.alice, Status.PAID, work_title="旧作", granted_amount=Decimal("20000.00")
        )
        response = self.page()
        self.assertContains(response, "已核定并保留 20,000.00 元")
        self.assertContains(response, "剩余 80,000.00 元")
        self.assertContains(response, "旧作")

    def test_a_buttons_post_takes_the_transition(self) -> None:
        self.login(self.reviewer)
        response = self.client.post(
            reverse("review:transition", args=[self.app.pk, "pass_initial"]), {"opinion": "材料齐全，同意"}
        )
        self.assertRedirects(
            response, reverse("review:detail", args=[self.app.pk]), fetch_redirect_response=False
        )
        self.app.refresh_from_db()
        self.assertEqual(self.app.status, Status.RE_REVIEW)

    def test_get_on_a_transition_is_not_allowed(self) -> None:
        self.login(self.reviewer)
        self.assertEqual(
            self.client.get(reverse("review:transition", args=[self.app.pk, "pass_initial"])).status_code, 405
        )

    def test_a_draft_is_not_shown_to_staff(self) -> None:
        draft = make_application(self.enterprise, self.alice, Status.DRAFT)
        self.login(self.reviewer)
        self.assertEqual(self.client.get(reverse("review:detail", args=[draft.pk])).status_code, 404)


class OnSiteCheckTests(ReviewTestCase):
    def setUp(self) -> None:
        self.app = make_application(self.enterprise, self.alice, Status.SUBMITTED)
        actions.claim_application(self.app, actor=self.reviewer)

    def test_a_reviewer_records_an_on_site_check_with_attachments(self) -> None:
        self.login(self.reviewer)
        response = self.client.post(
            reverse("review:on_site_check", args=[self.app.pk]),
            {
                "date": timezone.localdate().isoformat(),
                "people": "赵敏、钱磊",
                "findings": "机房现场核对服务器与结算凭证一致",
                "attachments": [upload("现场.png", png_bytes()), upload("记录.pdf", pdf_bytes())],
            },
        )
        self.assertRedirects(
            response, reverse("review:detail", args=[self.app.pk]), fetch_redirect_response=False
        )
        check = OnSiteCheck.objects.get(application=self.app)
        self.assertEqual(check.people, "赵敏、钱磊")
        self.assertEqual(sorted(a.original_name for a in check.attachments.all()), ["现场.png", "记录.pdf"])
        self.app.refresh_from_db()
        self.assertEqual(self.app.status, Status.INITIAL_REVIEW)  # the clock keeps running
        page = self.client.get(reverse("review:detail", args=[self.app.pk]))
        self.assertContains(page, "机房现场核对服务器与结算凭证一致")

        attachment = check.attachments.get(original_name="记录.pdf")
        download = self.client.get(reverse("review:attachment", args=[attachment.pk]))
        self.assertEqual(download["X-Content-Type-Options"], "nosniff")
        self.assertIn("attachment", download["Content-Disposition"])
        self.assertTrue(AuditEvent.objects.filter(action="review.attachment_download").exists())
        self.login(self.alice)
        self.assertEqual(self.client.get(reverse("review:attachment", args=[attachment.pk])).status_code, 404)

    def test_an_attachment_that_is_not_a_document_is_refused(self) -> None:
        self.login(self.reviewer)
        response = self.client.post(
            reverse("review:on_site_check", args=[self.app.pk]),
            {
                "date": timezone.localdate().isoformat(),
                "people": "赵敏",
                "findings": "x",
                "attachments": [upload("a.pdf", b"<html><script>alert(1)</script></html>")],
            },
        )
        self.assertContains(response, "不是允许的类型", status_code=400)
        self.assertFalse(OnSiteCheck.objects.exists())

    def test_an_on_site_check_outside_initial_review_is_refused(self) -> None:
        actions.pass_initial_review(self.app, actor=self.reviewer, opinion="初审意见：同意")
        with self.assertRaises(ReviewError) as refused:
            actions.record_on_site_check(
                self.app, date=timezone.localdate(), people="赵敏", findings="x", actor=self.reviewer
            )
        self.assertEqual(refused.exception.status, 409)

    def test_an_on_site_check_cannot_be_dated_in_the_future(self) -> None:
        with self.assertRaises(ReviewError):
            actions.record_on_site_check(
                self.app,
                date=timezone.localdate() + dt.timedelta(days=1),
                people="赵敏",
                findings="x",
                actor=self.reviewer,
            )


class ApprovalFormTests(ReviewTestCase):
    def test_the_printed_form_has_the_three_opinions_filled_from_the_record(self) -> None:
        from pypdf import PdfReader

        app = make_application(self.enterprise, self.alice, Status.SUBMITTED)
        actions.claim_application(app, actor=self.reviewer)
        actions.pass_initial_review(app, actor=self.reviewer, opinion="材料齐全符合条件")
        actions.pass_re_review(app, actor=self.head, opinion="复核无误同意上报")
        actions.approve_application(app, actor=self.approver, opinion="同意按核定金额补助")
        self.login(self.finance)
        response = self.client.get(reverse("review:approval_form", args=[app.pk]))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "application/pdf")
        text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
        compact = "".join(text.split())
        for text in (
            "材料齐全符合条件",
            "复核无误同意上报",
            "同意按核定金额补助",
            "初审员",
            "主管领导",
            "审批负责人",
        ):
            self.assertIn(text, compact)
        self.assertTrue(AuditEvent.objects.filter(action="review.approval_form_print").exists())
        self.login(self.alice)
        self.assertEqual(self.client.get(reverse("review:approval_form", args=[app.pk])).status_code, 404)
