"""What people read of an application's history: the applicant sees its own steps and the state
changes, named by the office; staff see every event named in Chinese; the workbench filters by a
month select; staff see phones masked on the enterprise page as on the review page."""

from __future__ import annotations

from django.urls import reverse

from applications.states import Status
from applications.timeline import timeline
from enterprises.models import Enterprise
from ledger.actions import record_event
from review import actions
from review.tests.helpers import ReviewTestCase
from testing.fixtures import make_application


class ApplicantTimelineTests(ReviewTestCase):
    def setUp(self) -> None:
        self.app = make_application(self.enterprise, self.alice, Status.SUBMITTED)
        actions.claim_application(self.app, actor=self.reviewer)
        # Staff-internal events on the application: printing, downloading, reconciling.
        record_event("review.approval_form_print", actor=self.finance, obj=self.app)
        record_event("application.pdf_download", actor=self.reviewer, obj=self.app)
        record_event("audit.reconcile", actor=self.inspector, obj=self.app, after={"flags": ["over_claim"]})

    def test_it_keeps_staff_internal_events_off_the_applicants_timeline(self) -> None:
        labels = [item.label for item in timeline(self.app)]
        self.assertIn("受理并开始初审", labels)
        self.assertNotIn("打印审批表", labels)
        self.assertNotIn("下载申报表", labels)
        self.assertFalse([label for label in labels if "核对" in label], labels)

    def test_it_names_staff_by_their_office_on_the_applicants_timeline(self) -> None:
        actors = {item.actor for item in timeline(self.app)}
        self.assertIn("北京市怀柔区文化产业发展促进中心", actors)
        self.assertNotIn(str(self.reviewer), actors)
        self.login(self.alice)
        page = self.client.get(reverse("applications:detail", args=[self.app.pk])).content.decode()
        timeline_html = page[page.index('id="timeline"') :]
        for name in (str(self.reviewer), str(self.finance), "财务", "review.approval_form_print"):
            self.assertNotIn(name, timeline_html)

    def test_it_names_every_event_of_the_staff_history_in_chinese(self) -> None:
        self.login(self.reviewer)
        page = self.client.get(reverse("review:detail", args=[self.app.pk]))
        self.assertContains(page, "打印审批表")
        self.assertContains(page, "下载申报表")
        self.assertNotContains(page, "review.approval_form_print")
        self.assertNotContains(page, "application.pdf_download")


class WorkbenchMonthFilterTests(ReviewTestCase):
    def test_it_filters_by_a_labelled_month_select_not_a_month_input(self) -> None:
        self.login(self.reviewer)
        page = self.client.get(reverse("review:workbench"), {"month": "2026-03"})
        self.assertNotContains(page, 'type="month"')
        self.assertContains(page, '<label for="wb-month">提交月份</label><select id="wb-month" name="month">')
        self.assertContains(page, '<option value="2026-03" selected>2026年3月</option>', html=False)


    def test_it_says_a_page_past_the_end_does_not_exist(self) -> None:
        make_application(self.enterprise, self.alice, Status.SUBMITTED)
        self.login(self.reviewer)
        page = self.client.get(reverse("review:workbench"), {"page": "999"})
        self.assertContains(page, "没有第 999 页，共 1 页，已显示第 1 页。")
        self.assertContains(page, 'id="queue"')


class EnterprisePageTests(ReviewTestCase):
    def test_it_masks_the_legal_representatives_phone_for_staff_as_on_the_review_page(self) -> None:
        phone = self.enterprise.legal_rep_phone
        self.assertTrue(phone)
        self.login(self.reviewer)
        page = self.client.get(reverse("enterprises:detail", args=[self.enterprise.pk]))
        self.assertNotContains(page, phone)
        self.assertNotContains(page, phone.removeprefix("+86"))
        self.assertContains(page, "****")
        self.login(self.alice)
        own = self.client.get(reverse("enterprises:detail", args=[self.enterprise.pk]))
        self.assertContains(own, phone)

    def test_it_offers_no_verification_of_a_verified_enterprise(self) -> None:
        self.assertEqual(self.enterprise.status, Enterprise.Status.VERIFIED)
        self.login(self.reviewer)
        listing = self.client.get(reverse("enterprises:pending"), {"status": "verified"})
        self.assertContains(listing, self.enterprise.name)
        self.assertNotContains(listing, reverse("enterprises:verify", args=[self.enterprise.pk]))
        form = self.client.get(reverse("enterprises:verify", args=[self.enterprise.pk]))
        self.assertRedirects(form, reverse("enterprises:detail", args=[self.enterprise.pk]))
        refused = self.client.post(
            reverse("enterprises:verify", args=[self.enterprise.pk]), {"decision": "rejected", "note": "x"}
        )
        self.assertEqual(refused.status_code, 302)
        self.enterprise.refresh_from_db()
        self.assertEqual(self.enterprise.status, Enterprise.Status.VERIFIED)
