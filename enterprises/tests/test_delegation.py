"""Delegation: the legal representative grants handlers rights with an expiry and revokes them;
every applicant-side action asks ``enterprises.permissions`` (issue: one identity, one licence)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from accounts.models import User
from accounts.roles import Role
from applications import actions as intake
from applications.states import Status
from applications.tests.factories import NOW, add_required_materials, make_draft, make_submittable, row_values
from enterprises import actions
from enterprises.models import Delegation, Right
from enterprises.permissions import has_right
from ledger.models import AuditEvent
from testing.fixtures import BaseTestCase, make_user

TODAY = NOW.date()


@time_machine.travel(NOW, tick=False)
class DelegationTests(BaseTestCase):
    hank: User

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        # alice is the first applicant of enterprise A: its legal representative.
        cls.hank = make_user("hank", Role.APPLICANT, enterprise=cls.enterprise, display_name="赵六")

    def grant(self, *rights: str, expires_on: dt.date = TODAY + dt.timedelta(days=30)) -> Delegation:
        return actions.grant_delegation(
            self.enterprise, self.hank, rights=rights, expires_on=expires_on, actor=self.alice
        )

    def test_the_first_applicant_is_the_legal_representative_with_every_right(self) -> None:
        self.enterprise.refresh_from_db()
        assert self.enterprise.legal_representative == self.alice
        assert all(has_right(self.alice, self.enterprise.pk, right) for right in Right.values)
        assert not has_right(self.hank, self.enterprise.pk, Right.PREPARE)

    def test_it_refuses_a_handler_without_any_grant_and_says_whom_to_ask(self) -> None:
        with pytest.raises(intake.ActionRefused, match="法定代表人尚未授权您“填报申请”"):
            intake.create_draft(actor=self.hank)
        refused = AuditEvent.objects.get(action="enterprise.delegation_refused")
        assert refused.result == AuditEvent.Result.FAILURE
        assert (refused.after or {})["reason"] == "no_delegation"
        assert refused.enterprise_id_ref == self.enterprise.pk

    def test_it_refuses_to_let_a_handler_without_the_signing_right_sign_row_26(self) -> None:
        self.grant(Right.PREPARE, Right.SUBMIT)
        draft = make_draft(self.hank, declaration_accepted=False, signer_name="")
        with pytest.raises(intake.ActionRefused, match="法定代表人未授予您“签署申报声明（第26项）”的权限"):
            intake.update_draft(draft, {"declaration_accepted": True, "signer_name": "张三"}, actor=self.hank)
        draft.refresh_from_db()
        assert draft.declaration_accepted is False
        assert draft.declared_by is None
        # Without row 26 signed the handler cannot submit either.
        add_required_materials(draft, self.hank)
        with pytest.raises(intake.SubmissionRefused) as caught:
            intake.submit_application(draft, actor=self.hank)
        assert "declaration_accepted" in caught.value.problems

    def test_a_handler_with_the_signing_right_signs_and_the_use_is_audited(self) -> None:
        delegation = self.grant(Right.PREPARE, Right.SIGN, Right.SUBMIT)
        application = make_submittable(self.hank)
        assert application.declared_by == self.hank
        submitted = intake.submit_application(application, actor=self.hank)
        assert submitted.status == Status.SUBMITTED
        uses = AuditEvent.objects.filter(action="enterprise.delegation_use", actor=self.hank)
        assert {(e.after or {})["right"] for e in uses} == {"prepare", "sign", "submit"}
        assert all((e.after or {})["delegation_id"] == delegation.pk for e in uses)

    def test_the_legal_representative_signs_without_any_delegation(self) -> None:
        application = make_submittable(self.alice)
        assert application.declared_by == self.alice
        assert intake.submit_application(application, actor=self.alice).status == Status.SUBMITTED
        assert not AuditEvent.objects.filter(action="enterprise.delegation_use").exists()

    def test_after_expiry_a_handlers_submit_is_refused_naming_the_day(self) -> None:
        self.grant(Right.SUBMIT, expires_on=TODAY)
        application = make_submittable(self.alice)
        with (
            time_machine.travel(NOW + dt.timedelta(days=3), tick=False),
            pytest.raises(intake.ActionRefused, match="您的经办授权已于 2026年3月20日 到期，不能“提交申报”"),
        ):
            intake.submit_application(application, actor=self.hank)
        application.refresh_from_db()
        assert application.status == Status.DRAFT
        refused = AuditEvent.objects.filter(action="enterprise.delegation_refused").latest("id")
        assert (refused.after or {})["reason"] == "expired"

    def test_after_revocation_a_handlers_submit_is_refused_naming_the_day(self) -> None:
        delegation = self.grant(Right.SUBMIT)
        application = make_submittable(self.alice)
        actions.revoke_delegation(delegation, actor=self.alice)
        with pytest.raises(intake.ActionRefused, match="您的经办授权已于 2026年3月20日 被法定代表人撤销"):
            intake.submit_application(application, actor=self.hank)
        assert AuditEvent.objects.filter(action="enterprise.delegation_revoke").count() == 1

    def test_the_submit_page_shows_the_reason_to_the_handler(self) -> None:
        self.grant(Right.PREPARE, expires_on=TODAY)
        application = make_submittable(self.alice)
        self.login(self.hank)
        response = self.client.post(reverse("applications:submit", args=[application.pk]), follow=True)
        assert "法定代表人未授予您“提交申报”的权限" in response.content.decode()

    def test_only_the_legal_representative_grants_and_revokes(self) -> None:
        delegation = self.grant(Right.PREPARE)
        other = make_user("olga", Role.APPLICANT, enterprise=self.enterprise)
        with pytest.raises(PermissionDenied):
            actions.grant_delegation(
                self.enterprise, other, rights=[Right.SIGN], expires_on=TODAY, actor=self.hank
            )
        with pytest.raises(PermissionDenied):
            actions.revoke_delegation(delegation, actor=self.hank)

    def test_a_new_grant_replaces_the_one_in_force(self) -> None:
        first = self.grant(Right.PREPARE)
        second = self.grant(Right.PREPARE, Right.SUBMIT)
        first.refresh_from_db()
        assert first.revoked_at is not None
        assert second.revoked_at is None
        assert has_right(self.hank, self.enterprise.pk, Right.SUBMIT)

    def test_a_handler_without_the_answer_right_cannot_resubmit(self) -> None:
        from review.transitions import check_transition

        self.grant(Right.PREPARE, Right.SUBMIT)
        application = make_submittable(self.alice)
        application.status = Status.SUPPLEMENT_REQUESTED
        refusal = check_transition(application, "resubmit", self.hank)
        assert refusal is not None and refusal.status == 403
        assert "答复补正通知" in refusal.message
        assert check_transition(application, "resubmit", self.alice) is None

    def test_the_enterprise_page_grants_revokes_and_lists_every_step(self) -> None:
        self.login(self.alice)
        url = reverse("enterprises:grant_delegation", args=[self.enterprise.pk])
        response = self.client.post(
            url, {"handler": self.hank.pk, "rights": ["prepare", "sign"], "expires_on": "2026-06-30"}
        )
        assert response.status_code == 302
        delegation = Delegation.objects.get(handler=self.hank)
        assert delegation.rights == ["prepare", "sign"]
        make_draft(self.hank, **row_values())
        self.client.post(reverse("enterprises:revoke_delegation", args=[self.enterprise.pk, delegation.pk]))
        self.login(self.hank)
        page = self.client.get(reverse("enterprises:detail", args=[self.enterprise.pk])).content.decode()
        assert "已于 2026年3月20日 撤销" in page
        for words in ("授权", "行使授权“填报申请”", "行使授权“签署申报声明（第26项）”", "撤销授权"):
            assert words in page
        assert "prepare" not in page.split('id="delegation-log"')[1]

    def test_a_grant_with_a_past_expiry_is_refused_with_the_field_named(self) -> None:
        self.login(self.alice)
        response = self.client.post(
            reverse("enterprises:grant_delegation", args=[self.enterprise.pk]),
            {"handler": self.hank.pk, "rights": ["prepare"], "expires_on": "2026-03-01"},
        )
        assert response.status_code == 422
        assert "授权有效期不能早于今天" in response.content.decode()
        assert not Delegation.objects.exists()

    def test_a_handler_cannot_open_the_grant_form(self) -> None:
        self.login(self.hank)
        response = self.client.post(
            reverse("enterprises:grant_delegation", args=[self.enterprise.pk]),
            {"handler": self.hank.pk, "rights": ["sign"], "expires_on": "2026-06-30"},
        )
        assert response.status_code == 403

    def test_a_reviewer_confirms_the_legal_representative_and_it_is_audited(self) -> None:
        self.login(self.reviewer)
        url = reverse("enterprises:set_legal_representative", args=[self.enterprise.pk])
        assert self.client.post(url, {"user": self.hank.pk}).status_code == 302
        self.enterprise.refresh_from_db()
        assert self.enterprise.legal_representative == self.hank
        event = AuditEvent.objects.get(action="enterprise.legal_representative")
        assert (event.after or {})["source"] == "staff" and event.actor == self.reviewer
        self.login(self.alice)
        assert self.client.post(url, {"user": self.alice.pk}).status_code == 403
