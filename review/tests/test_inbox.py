"""One inbox: every notice reaches the person's in-app inbox as HTML with working links, with an
unread count in the navigation, read state and filters; e-mail is the second channel."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core import mail
from django.urls import reverse

from applications.models import AnnualGrant
from applications.states import Status
from audits import fraud
from audits.tests.fixtures import make_application as make_paid_application
from core.models import Notification
from enterprises.actions import confirm_registration, registration_link, verify_enterprise
from enterprises.models import Enterprise
from enterprises.tests.test_registration import form_data
from review import notify
from review.tests.helpers import ReviewTestCase
from testing.fixtures import USCC_C, make_application, make_user, pdf_bytes, upload

BEIJING = dt.timezone(dt.timedelta(hours=8))


class InboxPageTests(ReviewTestCase):
    def receipt(self) -> Notification:
        app = make_application(self.enterprise, self.alice, Status.SUBMITTED)
        return notify.notify_applicant(app, Notification.Kind.SUBMISSION_RECEIPT, {})[0]

    def test_it_shows_a_message_as_html_with_a_working_site_relative_link(self) -> None:
        message = self.receipt()
        self.login(self.alice)
        response = self.client.get(reverse("review:message", args=[message.pk]))
        self.assertNotContains(response, "<pre")
        self.assertContains(response, f'<a href="{message.link}">{message.link}</a>', html=False)
        self.assertContains(response, "<p>")
        self.assertEqual(self.client.get(message.link).status_code, 200)

    def test_it_marks_a_message_read_when_it_is_opened(self) -> None:
        message = self.receipt()
        self.login(self.alice)
        self.assertContains(self.client.get(reverse("review:inbox")), "1 条未读")
        self.client.get(reverse("review:message", args=[message.pk]))
        message.refresh_from_db()
        self.assertIsNotNone(message.read_at)
        self.assertNotContains(self.client.get(reverse("review:inbox")), "条未读")

    def test_it_shows_the_unread_count_in_the_navigation(self) -> None:
        self.receipt()
        self.receipt()
        self.login(self.alice)
        page = self.client.get("/applications/")
        self.assertContains(page, f'hx-get="{reverse("review:inbox_unread")}"')
        badge = self.client.get(reverse("review:inbox_unread"))
        self.assertContains(badge, "2")
        self.assertContains(badge, "条未读")
        self.login(self.bob)
        self.assertNotContains(self.client.get(reverse("review:inbox_unread")), "条未读")

    def test_it_filters_by_kind_and_unread(self) -> None:
        first = self.receipt()
        app = make_application(self.enterprise, self.alice, Status.APPROVED)
        notify.notify_applicant(app, Notification.Kind.APPROVAL, {"amount": Decimal("9750.00")})
        self.login(self.alice)
        self.client.get(reverse("review:message", args=[first.pk]))
        unread = self.client.get(reverse("review:inbox"), {"unread": "1"})
        self.assertEqual([n.kind for n in unread.context["page"]], [Notification.Kind.APPROVAL])
        receipts = self.client.get(reverse("review:inbox"), {"kind": "submission_receipt"})
        self.assertEqual([n.pk for n in receipts.context["page"]], [first.pk])
        self.assertContains(receipts, "受理回执")

    def test_it_never_opens_another_persons_message(self) -> None:
        message = self.receipt()
        self.login(self.bob)
        self.assertEqual(self.client.get(reverse("review:message", args=[message.pk])).status_code, 404)
        message.refresh_from_db()
        self.assertIsNone(message.read_at)

    def test_it_says_so_when_the_page_is_past_the_end(self) -> None:
        self.receipt()
        self.login(self.alice)
        response = self.client.get(reverse("review:inbox"), {"page": "999"})
        self.assertContains(response, "没有第 999 页，共 1 页，已显示第 1 页。")
        self.assertEqual(len(response.context["page"].object_list), 1)


class EveryNoticeReachesTheInboxTests(ReviewTestCase):
    def test_it_tells_a_new_enterprise_on_registration_and_on_verification(self) -> None:
        data = form_data()
        data["license"] = upload("license.pdf", pdf_bytes())
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(reverse("enterprises:register"), data)
        enterprise = Enterprise.objects.get(uscc=USCC_C)
        user = enterprise.users.get()
        # The receipt follows the confirmation of the e-mailed one-time link.
        self.assertFalse(Notification.objects.filter(user=user).exists())
        uid, token = registration_link(user).rstrip("/").split("/")[-2:]
        with self.captureOnCommitCallbacks(execute=True):
            self.assertIsNotNone(confirm_registration(uid, token))
        registered = Notification.objects.get(user=user)
        self.assertEqual(registered.kind, Notification.Kind.REGISTRATION)
        self.assertIn("等待资质核验", registered.title)
        self.assertTrue(any("等待资质核验" in m.subject for m in mail.outbox))
        with self.captureOnCommitCallbacks(execute=True):
            verify_enterprise(enterprise, decision=Enterprise.Status.VERIFIED, note="", actor=self.reviewer)
        verified = Notification.objects.get(user=user, kind=Notification.Kind.VERIFICATION)
        self.assertIn("已通过资质核验", verified.title)
        self.assertEqual(verified.link, reverse("applications:list"))

    def test_it_tells_an_enterprise_why_its_verification_was_refused(self) -> None:
        pending = Enterprise.objects.create(
            name="怀柔未核企业有限公司",
            uscc=USCC_C,
            status=Enterprise.Status.PENDING,
            handler_email="x@example.cn",
        )
        user = make_user("pending1", "applicant", enterprise=pending)
        with self.captureOnCommitCallbacks(execute=True):
            verify_enterprise(
                pending, decision=Enterprise.Status.REJECTED, note="营业执照模糊", actor=self.reviewer
            )
        refused = Notification.objects.get(user=user, kind=Notification.Kind.VERIFICATION)
        self.assertIn("未通过资质核验", refused.title)
        self.assertIn("营业执照模糊", refused.body)

    def test_it_puts_clawback_and_blacklist_notices_in_the_inbox(self) -> None:
        app = make_paid_application(
            self.enterprise,
            self.alice,
            "京剧备字2026099号",
            cost="50000.00",
            work_minutes=100,
            status=Status.PAID,
            submitted_at=dt.datetime(2026, 3, 2, 10, tzinfo=BEIJING),
            paid_at=dt.datetime(2026, 4, 10, tzinfo=BEIJING),
            granted="15000.00",
        )
        AnnualGrant.objects.create(
            enterprise=self.enterprise, year=2026, total=Decimal("15000.00"), cap=Decimal("100000.00")
        )
        with self.captureOnCommitCallbacks(execute=True):
            fraud.claw_back(app, Decimal("15000.00"), actor=self.inspector, reason="虚报算力消耗")
        with self.captureOnCommitCallbacks(execute=True):
            fraud.blacklist_enterprise(self.enterprise, reason="虚报算力消耗", actor=self.inspector)
        kinds = set(Notification.objects.filter(user=self.alice).values_list("kind", flat=True))
        self.assertEqual(kinds, {Notification.Kind.CLAWBACK, Notification.Kind.BLACKLIST})
        self.login(self.alice)
        clawback = Notification.objects.get(user=self.alice, kind=Notification.Kind.CLAWBACK)
        self.assertEqual(self.client.get(clawback.link).status_code, 200)
        self.assertContains(self.client.get(reverse("review:inbox")), "补贴被追回")


class BadgeOnRedirectTargetsTests(ReviewTestCase):
    def test_it_leaves_the_badge_out_of_the_page_everything_redirects_to(self) -> None:
        # Otherwise the badge's own request is redirected and the whole page lands inside the nav.
        self.alice.password_changed_at = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
        self.alice.save()
        self.login(self.alice)
        page = self.client.get(reverse("accounts:password_change"))
        self.assertNotContains(page, reverse("review:inbox_unread"))
