"""一次性告知: the notice, the applicant's answer, the resubmission, and the rule for a second notice."""

from __future__ import annotations

from decimal import Decimal

from django.urls import reverse
from django.utils.html import escape

from applications.models import Material, MaterialKind
from applications.states import Status
from core.models import Notification
from ledger.models import AuditEvent
from review import actions, resubmission
from review.models import SupplementNotice
from review.tests.helpers import ReviewTestCase, add_material
from review.transitions import ReviewError
from testing.fixtures import make_application, pdf_bytes, upload


def message_body(page: str) -> str:
    return page.split('<div class="message-body">', 1)[1].split("</div>", 1)[0]


class SupplementTests(ReviewTestCase):
    def setUp(self) -> None:
        self.app = make_application(self.enterprise, self.alice, Status.SUBMITTED)
        for kind in (MaterialKind.USAGE_LOG, MaterialKind.SETTLEMENT_VOUCHER):
            add_material(self.app, kind, user=self.alice)
        actions.claim_application(self.app, actor=self.reviewer)

    def notify(self, items: list[tuple[str, str]], note: str = "") -> SupplementNotice:
        with self.captureOnCommitCallbacks(execute=True):
            return actions.request_supplement(self.app, items=items, note=note, actor=self.reviewer)

    def test_a_notice_lists_every_item_and_pauses_the_application(self) -> None:
        notice = self.notify(
            [("material:usage_log", "日志缺少3月份记录"), ("row:work_minutes", "与备案时长不一致")],
            note="请一次补齐",
        )
        self.assertEqual(self.app.status, Status.SUPPLEMENT_REQUESTED)
        self.assertEqual(notice.round, 1)
        self.assertEqual(
            [(i.item_code, i.text) for i in notice.items.all()],
            [("material:usage_log", "日志缺少3月份记录"), ("row:work_minutes", "与备案时长不一致")],
        )
        message = Notification.objects.get(user=self.alice, kind=Notification.Kind.SUPPLEMENT_NOTICE)
        self.assertIn("日志缺少3月份记录", message.body)
        self.assertIn("第 1 次", message.body)
        self.assertEqual(message.link, reverse("review:supplement", args=[self.app.pk]))
        event = AuditEvent.objects.get(action="application.request_supplement")
        assert event.after is not None
        self.assertEqual(event.after["items"], ["material:usage_log", "row:work_minutes"])

    def test_a_notice_needs_at_least_one_item(self) -> None:
        with self.assertRaises(ReviewError) as refused:
            actions.request_supplement(self.app, items=[], actor=self.reviewer)
        self.assertEqual(refused.exception.status, 400)
        self.assertEqual(self.app.status, Status.INITIAL_REVIEW)

    def test_the_applicant_sees_exactly_the_items_of_the_notice(self) -> None:
        self.notify([("row:work_minutes", "与备案时长不一致"), ("material:usage_log", "补充日志")])
        self.login(self.alice)
        response = self.client.get(reverse("review:supplement", args=[self.app.pk]))
        self.assertContains(response, "与备案时长不一致")
        self.assertContains(response, "补充日志")
        self.assertContains(response, 'name="value_row__work_minutes"')
        self.assertContains(response, 'name="files_material__usage_log"')
        self.assertNotContains(response, "row__work_title")
        self.assertContains(response, "supplement-item", count=2)

    def test_another_enterprise_cannot_open_the_supplement_page(self) -> None:
        self.notify([("row:work_minutes", "与备案时长不一致")])
        self.login(self.bob)
        self.assertEqual(self.client.get(reverse("review:supplement", args=[self.app.pk])).status_code, 404)

    def test_a_resubmission_breaking_a_cross_row_rule_is_refused_and_keeps_nothing(self) -> None:
        self.notify([("row:work_minutes", "与备案时长不一致"), ("material:usage_log", "补充日志")])
        self.login(self.alice)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(
                reverse("review:supplement", args=[self.app.pk]),
                {
                    "value_row__work_minutes": "90",
                    "answer_row__work_minutes": "已按备案证明更正",
                    "files_material__usage_log": upload("日志.pdf", pdf_bytes()),
                    "note": "已补齐",
                },
            )
        # Row 22 must equal row 12, so changing only row 12 is refused with the reason.
        self.assertContains(response, "须与作品制作时长（90 分钟）一致", status_code=400)
        self.app.refresh_from_db()
        self.assertEqual(self.app.status, Status.SUPPLEMENT_REQUESTED)
        self.assertEqual(self.app.work_minutes, 100)
        self.assertFalse(
            Material.objects.filter(application=self.app, kind=MaterialKind.USAGE_LOG, version=2).exists()
        )

    def test_resubmission_records_what_changed(self) -> None:
        notice = self.notify(
            [
                ("row:work_minutes", "与备案时长不一致"),
                ("row:compute_minutes", "同步更正"),
                ("material:usage_log", "补充日志"),
                ("row:platform_name", "请确认平台"),
            ]
        )
        self.login(self.alice)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(
                reverse("review:supplement", args=[self.app.pk]),
                {
                    "value_row__work_minutes": "90",
                    "value_row__compute_minutes": "90",
                    "value_row__platform_name": "红果短剧",
                    "answer_row__platform_name": "平台无误",
                    "files_material__usage_log": upload("日志.pdf", pdf_bytes()),
                },
            )
        self.assertRedirects(
            response, reverse("review:supplement", args=[self.app.pk]), fetch_redirect_response=False
        )
        self.app.refresh_from_db()
        notice.refresh_from_db()
        self.assertEqual(self.app.status, Status.INITIAL_REVIEW)
        self.assertEqual(self.app.work_minutes, 90)
        self.assertEqual(
            sorted(notice.changed_items), ["material:usage_log", "row:compute_minutes", "row:work_minutes"]
        )
        self.assertIsNotNone(notice.resubmitted_date)
        new = (
            Material.objects.filter(application=self.app, kind=MaterialKind.USAGE_LOG)
            .order_by("-version")
            .first()
        )
        assert new is not None
        self.assertGreater(new.version, 1)
        self.assertTrue(new.locked)
        self.assertEqual(
            Material.objects.filter(application=self.app, kind=MaterialKind.USAGE_LOG).count(), 2
        )
        # 90 minutes × 200 = 18,000 > 30 % of 50,000 = 15,000: the rate still binds.
        self.assertEqual(self.app.requested_amount, Decimal("15000.00"))
        self.assertTrue(
            Notification.objects.filter(user=self.reviewer, kind=Notification.Kind.RESUBMITTED).exists()
        )

    def test_every_item_needs_a_change_or_an_answer(self) -> None:
        self.notify([("row:platform_name", "请确认平台"), ("material:usage_log", "补充日志")])
        with self.assertRaises(ReviewError) as refused:
            resubmission.resubmit_application(self.app, answers={"row:platform_name": "无误"}, actor=self.alice)
        self.assertEqual(refused.exception.status, 400)
        self.assertIn("算力平台使用日志", refused.exception.message)
        self.app.refresh_from_db()
        self.assertEqual(self.app.status, Status.SUPPLEMENT_REQUESTED)

    def test_rows_not_named_in_the_notice_cannot_be_changed(self) -> None:
        self.notify([("row:platform_name", "请确认平台")])
        with self.assertRaises(ReviewError) as refused:
            resubmission.resubmit_application(
                self.app,
                answers={"row:platform_name": "无误"},
                row_values={"total_compute_cost": "99999.00"},
                actor=self.alice,
            )
        self.assertEqual(refused.exception.status, 400)
        self.app.refresh_from_db()
        self.assertEqual(self.app.total_compute_cost, Decimal("50000.00"))

    def test_a_changed_cost_recomputes_the_requested_amount(self) -> None:
        self.notify([("row:total_compute_cost", "与结算凭证不符")])
        resubmission.resubmit_application(
            self.app, answers={}, row_values={"total_compute_cost": "40000"}, actor=self.alice
        )
        self.app.refresh_from_db()
        self.assertEqual(self.app.total_compute_cost, Decimal("40000.00"))
        self.assertEqual(self.app.requested_amount, Decimal("12000.00"))
        assert self.app.calculation is not None
        self.assertEqual(self.app.calculation["amount"], "12000.00")

    def test_a_second_notice_may_only_name_items_changed_in_the_resubmission(self) -> None:
        self.notify([("row:platform_name", "请确认平台"), ("row:total_compute_cost", "与凭证不符")])
        resubmission.resubmit_application(
            self.app,
            answers={"row:platform_name": "平台无误"},
            row_values={"total_compute_cost": "48000.00"},
            actor=self.alice,
        )
        with self.assertRaises(ReviewError) as refused:
            actions.request_supplement(
                self.app,
                items=[
                    ("row:total_compute_cost", "仍不符"),
                    ("row:platform_name", "再确认"),
                    ("row:work_title", "x"),
                ],
                actor=self.reviewer,
            )
        self.assertEqual(refused.exception.status, 400)
        self.assertIn("只能针对企业补正时变更的事项", refused.exception.message)
        self.assertIn("上线平台名称", refused.exception.message)
        self.assertIn("短剧作品名称", refused.exception.message)
        self.assertNotIn("总算力成本", refused.exception.message)
        self.assertEqual(SupplementNotice.objects.filter(application=self.app).count(), 1)

        second = actions.request_supplement(
            self.app, items=[("row:total_compute_cost", "与凭证仍不符")], actor=self.reviewer
        )
        self.assertEqual(second.round, 2)

    def test_no_second_notice_when_nothing_changed(self) -> None:
        self.notify([("row:platform_name", "请确认平台")])
        resubmission.resubmit_application(self.app, answers={"row:platform_name": "平台无误"}, actor=self.alice)
        with self.assertRaises(ReviewError) as refused:
            actions.request_supplement(self.app, items=[("row:platform_name", "再确认")], actor=self.reviewer)
        self.assertIn("没有变更任何事项", refused.exception.message)

    def test_the_builder_on_the_review_page_disables_unchanged_items_for_a_second_notice(self) -> None:
        self.notify([("row:platform_name", "请确认平台"), ("row:total_compute_cost", "与凭证不符")])
        resubmission.resubmit_application(
            self.app,
            answers={"row:platform_name": "平台无误"},
            row_values={"total_compute_cost": "48000.00"},
            actor=self.alice,
        )
        self.login(self.reviewer)
        response = self.client.get(reverse("review:detail", args=[self.app.pk]))
        self.assertContains(response, "再次告知只能针对企业上次补正时变更的事项")
        self.assertContains(response, 'value="row:total_compute_cost" id="item-')
        self.assertRegex(response.content.decode(), r'value="row:platform_name" id="item-\d+" disabled')

    def test_it_previews_the_notice_exactly_and_sends_it_only_after_confirming(self) -> None:
        self.login(self.reviewer)
        url = reverse("review:supplement_request", args=[self.app.pk])
        fields = {
            "items": ["material:usage_log", "row:work_title"],
            "text:material:usage_log": "补充日志",
            "text:row:work_title": "名称与备案证明不一致",
            "note": "一次补齐",
        }
        with self.captureOnCommitCallbacks(execute=True):
            preview = self.client.post(url, fields)
        self.assertEqual(preview.status_code, 200)
        self.assertFalse(SupplementNotice.objects.filter(application=self.app).exists())
        self.assertFalse(Notification.objects.filter(application=self.app).exists())
        self.app.refresh_from_db()
        self.assertEqual(self.app.status, Status.INITIAL_REVIEW)
        page = preview.content.decode()
        self.assertIn("确认发出补正告知", page)
        self.assertIn('<input type="hidden" name="text:row:work_title" value="名称与备案证明不一致">', page)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(url, {**fields, "confirmed": "1"})
        self.assertRedirects(
            response, reverse("review:detail", args=[self.app.pk]), fetch_redirect_response=False
        )
        sent = Notification.objects.get(application=self.app, user=self.alice)
        self.client.logout()
        self.login(self.alice)
        read = self.client.get(reverse("review:message", args=[sent.pk])).content.decode()
        # What the reviewer previewed is what the enterprise reads, title and text alike.
        self.assertEqual(message_body(page), message_body(read))
        self.assertIn(f"<h1>{escape(sent.title)}</h1>", page)
        notice = SupplementNotice.objects.get(application=self.app)
        self.assertEqual(notice.note, "一次补齐")
        self.assertEqual(notice.items.get(code="usage_log").text, "补充日志")
