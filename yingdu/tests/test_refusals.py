"""One refusal type: its messages by field on a page, and its status and error shape in the API."""

from __future__ import annotations

import time_machine
from django import forms
from django.test import RequestFactory, SimpleTestCase
from django.urls import reverse

from applications import actions as intake
from applications.states import Status
from applications.tests.factories import NOW, make_submittable
from audits.guards import AuditRefused
from core.refusals import NON_FIELD, Refused, show_refusal
from monitoring.actions import ProviderError
from review import actions as review
from review.tests.helpers import ReviewTestCase
from review.transitions import ReviewError
from testing.fixtures import make_application


class PaymentForm(forms.Form):
    amount = forms.DecimalField()
    reference = forms.CharField()


class RefusedTypeTests(SimpleTestCase):
    def test_it_makes_every_app_refusal_one_type_with_a_status(self) -> None:
        refusals = [
            intake.ActionRefused("申请已提交"),
            intake.SubmissionRefused({"materials": ["缺少材料"]}),
            ReviewError("状态不对", status=403),
            AuditRefused({"amount": ["须为正数"]}),
            ProviderError("已存在"),
        ]
        assert all(isinstance(r, Refused) for r in refusals)
        assert [r.status for r in refusals] == [409, 422, 403, 400, 400]
        assert refusals[1].problems == {"materials": ["缺少材料"]}
        assert refusals[0].problems == {NON_FIELD: ["申请已提交"]}

    def test_it_puts_each_message_beside_its_field_and_the_rest_at_the_top(self) -> None:
        form = PaymentForm({"amount": "1", "reference": "x"})
        form.is_valid()
        exc = ReviewError({"amount": ["金额不对"], "date": ["日期不对"], NON_FIELD: ["已付款"]}, status=400)
        show_refusal(RequestFactory().post("/"), exc, form)
        assert form.errors["amount"] == ["金额不对"]
        assert form.non_field_errors() == ["日期不对", "已付款"]


class RefusalPageTests(ReviewTestCase):
    def test_it_lists_each_message_of_a_refused_form_on_its_own_line(self) -> None:
        app = make_application(self.enterprise, self.alice, Status.SUBMITTED)
        review.claim_application(app, actor=self.reviewer)
        self.login(self.reviewer)
        response = self.client.post(reverse("review:on_site_check", args=[app.pk]), {"findings": "x"})
        self.assertEqual(response.status_code, 400)
        page = response.content.decode()
        refusal = page[page.index('id="refusal"') : page.index("</div>", page.index('id="refusal"'))]
        self.assertGreaterEqual(refusal.count("<p>"), 2)  # the date and the people, one each
        self.assertNotIn("；", refusal)


@time_machine.travel(NOW, tick=False)
class RefusalApiTests(ReviewTestCase):
    def test_it_answers_an_action_refusal_at_its_status_in_the_declared_shape(self) -> None:
        application = make_submittable(self.alice)
        intake.submit_application(application, actor=self.alice)
        self.login(self.alice)
        again = self.client.post(f"/api/v1/applications/{application.pk}/submit")
        self.assertEqual(again.status_code, 409)
        self.assertEqual(set(again.json()), {"detail"})
        material = application.materials.all()[0]
        removed = self.client.delete(f"/api/v1/applications/{application.pk}/materials/{material.pk}")
        self.assertEqual(removed.status_code, 409)
        self.assertIn("detail", removed.json())
