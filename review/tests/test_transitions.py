"""The transition table enforced by the review actions: every illegal transition from every state is
refused and changes nothing; roles, conflicts of interest and separation of duties (docs/security.md)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from applications.models import Application
from applications.states import TRANSITIONS, Status
from enterprises.models import ConflictOfInterest
from ledger.models import AuditEvent
from review import actions, resubmission, transitions
from review.actions import ACTIONS
from review.models import ReviewStep
from review.tests.helpers import ReviewTestCase
from review.transitions import ReviewError
from testing.fixtures import make_application, make_enterprise, make_user

# Transitions whose actions live in other apps: submission and withdrawal (intake), clawback (audits).
ELSEWHERE = {"submit", "withdraw", "clawback", "partial_clawback"}


def kwargs_for(name: str) -> dict[str, Any]:
    """The arguments each action needs besides the application and the actor."""
    if name == "request_supplement":
        return {"items": [("material:usage_log", "请补充完整日志")]}
    if name == "resubmit":
        return {"answers": {}}
    if name in ("reject_initial", "reject_final", "return_to_initial", "return_to_re_review"):
        return {"opinion": "意见", "transition": name}
    if name == "pay":
        return {"date": dt.date(2026, 3, 2), "amount": Decimal("15000.00"), "bank_reference": "BOC-1"}
    return {}


ILLEGAL = [
    (name, status) for name in sorted(ACTIONS) for status in Status if status not in TRANSITIONS[name].sources
]


def test_every_transition_of_the_table_has_an_action_here_or_in_its_own_app() -> None:
    assert set(ACTIONS) | ELSEWHERE == set(TRANSITIONS)


@pytest.fixture
def personas(db: Any) -> dict[str, Any]:
    enterprise = make_enterprise("北京影都智造文化传媒有限公司")
    applicant = make_user("applicant", Role.APPLICANT, enterprise=enterprise)
    return {
        "enterprise": enterprise,
        Role.APPLICANT: applicant,
        Role.REVIEWER: make_user("reviewer", Role.REVIEWER),
        Role.HEAD: make_user("head", Role.HEAD),
        Role.APPROVER: make_user("approver", Role.APPROVER),
        Role.FINANCE: make_user("finance", Role.FINANCE),
    }


@pytest.mark.parametrize(("name", "status"), ILLEGAL, ids=[f"{n}-from-{s.value}" for n, s in ILLEGAL])
def test_every_illegal_transition_from_every_state_is_refused(
    personas: dict[str, Any], name: str, status: Status
) -> None:
    app = make_application(
        personas["enterprise"], personas[Role.APPLICANT], status, granted_amount=Decimal("15000.00")
    )
    before = Application.objects.get(pk=app.pk)
    actor = personas[TRANSITIONS[name].role]
    failures = AuditEvent.objects.filter(result=AuditEvent.Result.FAILURE).count()

    with pytest.raises(ReviewError) as refused:
        ACTIONS[name](app, actor=actor, **kwargs_for(name))

    assert refused.value.status == 409
    assert str(status.label) in refused.value.message
    after = Application.objects.get(pk=app.pk)
    assert (after.status, after.updated_at, after.granted_amount) == (
        before.status,
        before.updated_at,
        before.granted_amount,
    )
    assert not ReviewStep.objects.filter(application=app).exists()
    assert AuditEvent.objects.filter(result=AuditEvent.Result.FAILURE).count() == failures + 1


SIMPLE = ["claim", "pass_initial", "reject_initial", "pass_re_review", "return_to_initial", "approve"]
HTTP_ILLEGAL = [
    (n, s) for n in SIMPLE for s in Status if s not in TRANSITIONS[n].sources and s != Status.DRAFT
]


@pytest.mark.parametrize(
    ("name", "status"), HTTP_ILLEGAL, ids=[f"{n}-from-{s.value}" for n, s in HTTP_ILLEGAL]
)
def test_posting_a_transition_from_a_wrong_state_answers_409(
    client: Any, personas: dict[str, Any], name: str, status: Status
) -> None:
    app = make_application(personas["enterprise"], personas[Role.APPLICANT], status)
    client.force_login(personas[TRANSITIONS[name].role])
    response = client.post(reverse("review:transition", args=[app.pk, name]), {"opinion": "意见"})
    assert response.status_code == 409
    assert "不能执行" in response.content.decode()
    assert Application.objects.get(pk=app.pk).status == status


class SeparationOfDutiesTests(ReviewTestCase):
    """Three levels, three people; no review of an enterprise one declared a conflict with."""

    def setUp(self) -> None:
        self.app = make_application(self.enterprise, self.alice, Status.SUBMITTED)

    def with_roles(self, username: str, *roles: str) -> User:
        return make_user(username, *roles, display_name=username)

    def test_the_same_person_cannot_do_initial_review_and_re_review(self) -> None:
        both = self.with_roles("zhao", Role.REVIEWER, Role.HEAD)
        actions.claim_application(self.app, actor=both)
        actions.pass_initial_review(self.app, actor=both, opinion="材料齐全")
        self.login(both)

        response = self.client.post(reverse("review:transition", args=[self.app.pk, "pass_re_review"]))

        self.assertEqual(response.status_code, 403)
        self.assertContains(response, "三名不同人员", status_code=403)
        self.app.refresh_from_db()
        self.assertEqual(self.app.status, Status.RE_REVIEW)
        refusal = AuditEvent.objects.get(action="application.pass_re_review")
        self.assertEqual(refusal.result, AuditEvent.Result.FAILURE)
        self.assertEqual(refusal.actor, both)
        self.assertEqual(refusal.object_id, str(self.app.pk))

    def test_the_same_person_cannot_do_re_review_and_final_approval(self) -> None:
        both = self.with_roles("qian", Role.HEAD, Role.APPROVER)
        actions.claim_application(self.app, actor=self.reviewer)
        actions.pass_initial_review(self.app, actor=self.reviewer, opinion="初审意见：同意")
        actions.pass_re_review(self.app, actor=both, opinion="复审意见：同意")
        with self.assertRaises(ReviewError) as refused:
            actions.approve_application(self.app, actor=both, opinion="同意补助")
        self.assertEqual(refused.exception.status, 403)
        self.app.refresh_from_db()
        self.assertEqual(self.app.status, Status.FINAL_APPROVAL)
        self.assertIsNone(self.app.granted_amount)

    def test_the_initial_reviewer_cannot_give_final_approval(self) -> None:
        both = self.with_roles("sun", Role.REVIEWER, Role.APPROVER)
        actions.claim_application(self.app, actor=both)
        actions.pass_initial_review(self.app, actor=both, opinion="初审意见：同意")
        actions.pass_re_review(self.app, actor=self.head, opinion="复审意见：同意")
        with self.assertRaises(ReviewError) as refused:
            actions.approve_application(self.app, actor=both, opinion="同意补助")
        self.assertEqual(refused.exception.status, 403)

    def test_a_reviewer_may_continue_the_same_level_after_a_return(self) -> None:
        actions.claim_application(self.app, actor=self.reviewer)
        actions.pass_initial_review(self.app, actor=self.reviewer, opinion="初审意见：同意")
        actions.return_application(self.app, actor=self.head, opinion="请核实算力成本")
        self.assertEqual(self.app.status, Status.INITIAL_REVIEW)
        actions.pass_initial_review(self.app, actor=self.reviewer, opinion="已核实")
        actions.pass_re_review(self.app, actor=self.head, opinion="复审意见：同意")
        self.assertEqual(self.app.status, Status.FINAL_APPROVAL)

    def test_an_approver_cannot_record_the_payment(self) -> None:
        both = self.with_roles("li", Role.APPROVER, Role.FINANCE)
        actions.claim_application(self.app, actor=self.reviewer)
        actions.pass_initial_review(self.app, actor=self.reviewer, opinion="初审意见：同意")
        actions.pass_re_review(self.app, actor=self.head, opinion="复审意见：同意")
        actions.approve_application(self.app, actor=both, opinion="同意补助")
        with self.assertRaises(ReviewError) as refused:
            actions.record_payment(
                self.app,
                date=timezone.localdate(),
                amount=self.app.granted_amount or Decimal(0),
                bank_reference="BOC-1",
                actor=both,
            )
        self.assertEqual(refused.exception.status, 403)

    def test_a_reviewer_with_a_declared_conflict_cannot_claim(self) -> None:
        ConflictOfInterest.objects.create(user=self.reviewer, enterprise=self.enterprise, reason="亲属任职")
        self.login(self.reviewer)
        response = self.client.post(reverse("review:transition", args=[self.app.pk, "claim"]))
        self.assertContains(response, "利益冲突", status_code=403)
        self.app.refresh_from_db()
        self.assertEqual(self.app.status, Status.SUBMITTED)

    def test_a_role_without_the_transition_gets_403(self) -> None:
        with self.assertRaises(ReviewError) as refused:
            actions.claim_application(self.app, actor=self.head)
        self.assertEqual(refused.exception.status, 403)
        self.assertIn("初审人员", refused.exception.message)

    def test_an_applicant_of_another_enterprise_cannot_resubmit(self) -> None:
        actions.claim_application(self.app, actor=self.reviewer)
        actions.request_supplement(
            self.app, items=[("row:work_title", "名称与备案不一致")], actor=self.reviewer
        )
        with self.assertRaises(ReviewError) as refused:
            resubmission.resubmit_application(self.app, answers={"row:work_title": "已核对"}, actor=self.bob)
        self.assertEqual(refused.exception.status, 403)

    def test_staff_pages_are_404_for_applicants_and_403_for_outsiders(self) -> None:
        self.login(self.alice)
        self.assertEqual(self.client.get(reverse("review:detail", args=[self.app.pk])).status_code, 404)
        self.assertEqual(
            self.client.post(reverse("review:transition", args=[self.app.pk, "claim"])).status_code, 404
        )
        self.assertEqual(self.client.get(reverse("review:workbench")).status_code, 403)
        self.login(self.outsider)
        self.assertEqual(self.client.get(reverse("review:workbench")).status_code, 403)

    def test_buttons_offer_only_what_the_user_may_do(self) -> None:
        actions.claim_application(self.app, actor=self.reviewer)
        self.assertEqual(
            transitions.available_transitions(self.app, self.reviewer),
            ["request_supplement", "pass_initial", "reject_initial", "on_site_check"],
        )
        self.assertEqual(transitions.available_transitions(self.app, self.head), [])
        group = Group.objects.get(name=Role.HEAD)
        both = self.with_roles("zhou", Role.REVIEWER)
        both.groups.add(group)
        actions.take_over_application(self.app, actor=both, reason="原受理人休假")
        actions.pass_initial_review(self.app, actor=both, opinion="初审意见：同意")
        self.assertEqual(transitions.available_transitions(self.app, both), [])
