"""Intake actions: drafts, materials, submission with eligibility, withdrawal (docs/form.md)."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from applications import actions
from applications.models import Application, ConsumptionRow, Material, MaterialKind
from applications.states import Status
from applications.tests.factories import (
    LAUNCH_DEADLINE,
    NOW,
    add_required_materials,
    checked,
    consumption_csv,
    make_draft,
    make_submittable,
)
from core.formats import date_text
from enterprises.models import Enterprise
from ledger.models import AuditEvent
from testing.fixtures import BaseTestCase, pdf_bytes


@time_machine.travel(NOW, tick=False)
class DraftTests(BaseTestCase):
    def test_a_draft_is_prefilled_with_rows_1_to_9_from_the_enterprise(self) -> None:
        application = actions.create_draft(actor=self.alice)
        assert application.status == Status.DRAFT
        assert application.enterprise == self.enterprise
        assert application.enterprise_name == self.enterprise.name
        assert application.uscc == self.enterprise.uscc
        assert application.legal_rep_phone == self.enterprise.legal_rep_phone
        assert application.handler_email == self.enterprise.handler_email
        assert (
            AuditEvent.objects.filter(action="application.create", object_id=str(application.pk)).count() == 1
        )

    def test_a_pending_enterprise_cannot_start_an_application(self) -> None:
        Enterprise.objects.filter(pk=self.enterprise.pk).update(status=Enterprise.Status.PENDING)
        with pytest.raises(actions.ActionRefused, match="尚未通过区文促中心核验"):
            actions.create_draft(actor=self.alice)

    def test_a_blacklisted_enterprise_is_told_the_reason(self) -> None:
        Enterprise.objects.filter(pk=self.enterprise.pk).update(
            blacklisted=True, blacklist_reason="虚报算力消耗"
        )
        with pytest.raises(actions.ActionRefused, match="虚报算力消耗"):
            actions.create_draft(actor=self.alice)

    def test_staff_cannot_create_a_draft(self) -> None:
        with pytest.raises(PermissionDenied):
            actions.create_draft(actor=self.reviewer)

    def test_update_changes_only_the_given_rows_and_records_the_difference(self) -> None:
        application = actions.create_draft(actor=self.alice)
        actions.update_draft(application, {"work_title": "龙城夜雨", "work_minutes": 60}, actor=self.alice)
        application.refresh_from_db()
        assert application.work_title == "龙城夜雨"
        assert application.work_minutes == 60
        event = AuditEvent.objects.filter(action="application.update").latest("id")
        assert event.after == {"work_title": "龙城夜雨", "work_minutes": 60}

    def test_amount_status_and_enterprise_are_not_editable_by_the_applicant(self) -> None:
        application = actions.create_draft(actor=self.alice)
        for field, value in (
            ("requested_amount", Decimal("99999")),
            ("status", Status.APPROVED),
            ("enterprise", self.other_enterprise),
            ("granted_amount", Decimal("1")),
        ):
            with pytest.raises(ValueError, match="not editable"):
                actions.update_draft(application, {field: value}, actor=self.alice)
        application.refresh_from_db()
        assert application.status == Status.DRAFT
        assert application.enterprise == self.enterprise
        assert application.requested_amount is None

    def test_another_enterprises_user_cannot_update_the_draft(self) -> None:
        application = actions.create_draft(actor=self.alice)
        with pytest.raises(PermissionDenied):
            actions.update_draft(application, {"work_title": "x"}, actor=self.bob)

    def test_a_registered_provider_name_is_linked_and_free_text_is_not(self) -> None:
        application = make_draft(self.alice, provider_name="怀柔智算中心")
        assert application.provider == self.provider
        application = actions.update_draft(application, {"provider_name": "某某云"}, actor=self.alice)
        assert application.provider is None

    def test_the_draft_shows_todays_estimate(self) -> None:
        application = make_draft(self.alice)
        assert application.requested_amount == Decimal("12000.00")  # 60 min × 200 yuan
        assert application.calculation is not None
        assert application.calculation["binding"] == "per_minute_cap"
        assert application.policy_version == "2026-02-05"


@time_machine.travel(NOW, tick=False)
class MaterialTests(BaseTestCase):
    def test_a_file_is_stored_under_a_generated_name_with_its_hash(self) -> None:
        application = actions.create_draft(actor=self.alice)
        content = pdf_bytes()
        material = actions.add_material(
            application,
            MaterialKind.BUSINESS_LICENSE,
            checked("../../营业执照.pdf", content),
            actor=self.alice,
        )
        assert material.original_name == "营业执照.pdf"
        stored = str(material.file.name)
        assert stored.startswith("materials/2026/03/")
        assert "营业执照" not in stored
        assert material.sha256 == hashlib.sha256(content).hexdigest()
        assert default_storage.exists(stored)
        assert (material.version, material.supplement_round, material.locked) == (1, 0, False)
        assert AuditEvent.objects.filter(action="application.material_upload").count() == 1

    def test_several_files_of_one_kind_are_kept(self) -> None:
        application = actions.create_draft(actor=self.alice)
        for name in ("截图1.pdf", "截图2.pdf"):
            actions.add_material(
                application, MaterialKind.LAUNCH_PROOF, checked(name, pdf_bytes()), actor=self.alice
            )
        assert application.current_materials().filter(kind=MaterialKind.LAUNCH_PROOF).count() == 2

    def test_csv_is_accepted_only_as_consumption_detail(self) -> None:
        application = actions.create_draft(actor=self.alice)
        table = checked("明细.csv", consumption_csv(), MaterialKind.CONSUMPTION_DETAIL)
        with pytest.raises(ValidationError, match="CSV/XLSX 仅用于算力消耗明细单"):
            actions.add_material(application, MaterialKind.SETTLEMENT_VOUCHER, table, actor=self.alice)
        material = actions.add_material(application, MaterialKind.CONSUMPTION_DETAIL, table, actor=self.alice)
        assert ConsumptionRow.objects.filter(material=material).count() == 2

    def test_a_consumption_detail_with_a_bad_row_is_refused_with_its_row_number(self) -> None:
        application = actions.create_draft(actor=self.alice)
        rows = [
            ("JOB-1", "2026-03-01 08:00", "2026-03-01 08:30", "H200", "八", 30, "5000", "20000.00", "render")
        ]
        with pytest.raises(actions.ConsumptionDetailRejected) as caught:
            actions.add_material(
                application,
                MaterialKind.CONSUMPTION_DETAIL,
                checked("明细.csv", consumption_csv(rows), MaterialKind.CONSUMPTION_DETAIL),
                actor=self.alice,
            )
        assert [(e.row, e.column) for e in caught.value.result.errors] == [(2, "quantity")]
        assert not Material.objects.filter(application=application).exists()
        assert not ConsumptionRow.objects.exists()

    def test_removing_a_draft_file_keeps_the_row_but_drops_its_parsed_rows(self) -> None:
        application = actions.create_draft(actor=self.alice)
        material = actions.add_material(
            application,
            MaterialKind.CONSUMPTION_DETAIL,
            checked("明细.csv", consumption_csv(), MaterialKind.CONSUMPTION_DETAIL),
            actor=self.alice,
        )
        actions.remove_draft_material(material, actor=self.alice)
        material.refresh_from_db()
        assert material.deleted
        assert not ConsumptionRow.objects.filter(material=material).exists()
        assert not application.current_materials().exists()


@time_machine.travel(NOW, tick=False)
class SubmissionTests(BaseTestCase):
    def test_a_complete_application_is_submitted_with_reference_date_amount_and_locked_materials(
        self,
    ) -> None:
        application = make_submittable(self.alice)
        with self.captureOnCommitCallbacks(execute=True):
            submitted = actions.submit_application(application, actor=self.alice)
        assert submitted.status == Status.SUBMITTED
        assert submitted.reference == f"YD2026-{application.pk:06d}"
        assert submitted.received_date == dt.date(2026, 3, 20)
        assert submitted.submitted_at == NOW
        assert submitted.requested_amount == Decimal("12000.00")
        assert submitted.policy_version == "2026-02-05"
        assert submitted.calculation is not None and submitted.calculation["binding"] == "per_minute_cap"
        assert not Material.objects.filter(application=application, locked=False).exists()
        event = AuditEvent.objects.get(action="application.submit", object_id=str(application.pk))
        assert event.before == {"status": "draft"}
        assert event.after is not None and event.after["reference"] == submitted.reference
        # The receipt: one e-mail to the enterprise's users and the handler on the form.
        assert len(mail.outbox) == 1
        assert submitted.reference in mail.outbox[0].subject
        assert self.enterprise.handler_email in mail.outbox[0].to

    def test_the_amount_is_recomputed_with_the_granted_total_of_the_year(self) -> None:
        earlier = make_submittable(self.alice, filing_number="OLD-1")
        actions.submit_application(earlier, actor=self.alice)
        Application.objects.filter(pk=earlier.pk).update(
            status=Status.PAID, granted_amount=Decimal("95000.00")
        )
        application = make_submittable(self.alice)
        submitted = actions.submit_application(application, actor=self.alice)
        assert submitted.requested_amount == Decimal("5000.00")
        assert submitted.calculation is not None and submitted.calculation["binding"] == "annual_cap"

    def test_submission_is_refused_with_the_full_list_of_what_is_wrong(self) -> None:
        application = actions.create_draft(actor=self.alice)
        actions.update_draft(
            application,
            {"work_minutes": 60, "compute_minutes": 50, "enterprise_name": "别家公司"},
            actor=self.alice,
        )
        with pytest.raises(actions.SubmissionRefused) as caught:
            actions.submit_application(application, actor=self.alice)
        problems = caught.value.problems
        for field in (
            "enterprise_name",
            "work_title",
            "filing_number",
            "launch_date",
            "compute_minutes",
            "total_compute_cost",
            "declaration_accepted",
            "signer_name",
            "materials",
        ):
            assert field in problems, field
        assert "须与注册的企业名称" in problems["enterprise_name"][0]
        assert "须与作品制作时长（60 分钟）一致" in problems["compute_minutes"][0]
        assert "营业执照复印件" in problems["materials"][0]
        application.refresh_from_db()
        assert application.status == Status.DRAFT

    def test_overseas_rows_and_proof_are_required_only_when_row_16_is_yes(self) -> None:
        application = make_draft(self.alice, overseas=True)
        add_required_materials(application, self.alice, skip=(MaterialKind.OVERSEAS_PROOF,))
        with pytest.raises(actions.SubmissionRefused) as caught:
            actions.submit_application(application, actor=self.alice)
        problems = caught.value.problems
        assert {
            "overseas_region",
            "overseas_agreement_number",
            "overseas_platform",
            "overseas_launch_date",
        } <= set(problems)
        assert "出海发行证明" in problems["materials"][0]

    def test_an_overseas_work_gets_the_overseas_rate(self) -> None:
        application = make_submittable(
            self.alice,
            overseas=True,
            overseas_region="东南亚",
            overseas_agreement_number="HW-2026-01",
            overseas_platform="ReelShort",
            overseas_launch_date=dt.date(2026, 3, 5),
            work_minutes=100,
            compute_minutes=100,
        )
        rows = [
            ("JOB-1", "2026-03-01 08:00", "2026-03-01 09:40", "H200", 8, 100, "3750", "50000.00", "render"),
        ]
        actions.add_material(
            application,
            MaterialKind.CONSUMPTION_DETAIL,
            checked(
                "明细2.csv",
                consumption_csv(rows).replace(b"JOB-1", b"JOB-9"),
                MaterialKind.CONSUMPTION_DETAIL,
            ),
            actor=self.alice,
        )
        first = application.materials.get(kind=MaterialKind.CONSUMPTION_DETAIL, original_name="明细.csv")
        actions.remove_draft_material(first, actor=self.alice)
        actions.add_material(
            application, MaterialKind.OVERSEAS_PROOF, checked("出海.pdf", pdf_bytes()), actor=self.alice
        )
        submitted = actions.submit_application(application, actor=self.alice)
        assert submitted.requested_amount == Decimal("19500.00")  # 50,000 × 39 %
        assert submitted.support_type == "出海发行作品算力补助"

    def test_a_row_23_other_than_the_base_computed_from_the_detail_blocks_submission(self) -> None:
        application = make_draft(self.alice, total_compute_cost=Decimal("52000.00"))
        add_required_materials(application, self.alice)
        with pytest.raises(actions.SubmissionRefused) as caught:
            actions.submit_application(application, actor=self.alice)
        [message] = caught.value.problems["total_compute_cost"]
        assert message.startswith("第23行总算力成本 52,000.00 元应等于按明细计算的实付算力成本 50,000.00 元")
        assert "现金实付 50,000.00 元" in message

    def test_a_consumption_detail_only_as_pdf_is_not_enough(self) -> None:
        application = make_draft(self.alice)
        add_required_materials(application, self.alice)
        detail = application.materials.get(kind=MaterialKind.CONSUMPTION_DETAIL)
        actions.remove_draft_material(detail, actor=self.alice)
        actions.add_material(
            application,
            MaterialKind.CONSUMPTION_DETAIL,
            checked("明细盖章.pdf", pdf_bytes()),
            actor=self.alice,
        )
        with pytest.raises(actions.SubmissionRefused) as caught:
            actions.submit_application(application, actor=self.alice)
        assert "CSV 或 XLSX" in caught.value.problems["consumption_detail"][0]

    def test_a_second_application_with_the_same_filing_number_is_refused(self) -> None:
        first = make_submittable(self.alice)
        actions.submit_application(first, actor=self.alice)
        second = make_submittable(self.bob, filing_number="京剧备2026-0001".lower())
        with pytest.raises(actions.SubmissionRefused) as caught:
            actions.submit_application(second, actor=self.bob)
        assert "同一作品只能申报一次" in caught.value.problems["filing_number"][0]

    def test_the_database_holds_one_live_filing_number_whatever_its_case(self) -> None:
        first = make_submittable(self.alice, filing_number="BJAI2026-0001")
        actions.submit_application(first, actor=self.alice)
        second = make_submittable(self.bob, filing_number="bjai2026-0001")
        with pytest.raises(IntegrityError), transaction.atomic():
            Application.objects.filter(pk=second.pk).update(status=Status.SUBMITTED.value)

    def test_a_withdrawn_application_frees_its_filing_number(self) -> None:
        first = make_submittable(self.alice)
        actions.submit_application(first, actor=self.alice)
        actions.withdraw_application(first, actor=self.alice, reason="信息有误")
        second = make_submittable(self.alice)
        assert actions.submit_application(second, actor=self.alice).status == Status.SUBMITTED

    def test_an_application_after_the_apply_deadline_is_refused_naming_the_deadline(self) -> None:
        application = make_submittable(self.alice)
        after_deadline = dt.datetime(2026, 4, 15, 9, 0, tzinfo=NOW.tzinfo)
        with (
            time_machine.travel(after_deadline, tick=False),
            pytest.raises(actions.SubmissionRefused) as caught,
        ):
            actions.submit_application(application, actor=self.alice)
        message = caught.value.problems["launch_date"][0]
        assert "已超过申报期限" in message
        assert date_text(LAUNCH_DEADLINE) in message

    def test_submission_on_the_deadline_day_is_in_time(self) -> None:
        application = make_submittable(self.alice)
        with time_machine.travel(dt.datetime(2026, 4, 14, 23, 59, tzinfo=NOW.tzinfo), tick=False):
            submitted = actions.submit_application(application, actor=self.alice)
        assert submitted.received_date == LAUNCH_DEADLINE

    def test_a_blacklisted_enterprise_cannot_submit_and_is_told_why(self) -> None:
        application = make_submittable(self.alice)
        Enterprise.objects.filter(pk=self.enterprise.pk).update(
            blacklisted=True, blacklist_reason="伪造使用记录"
        )
        with pytest.raises(actions.SubmissionRefused) as caught:
            actions.submit_application(application, actor=self.alice)
        assert "伪造使用记录" in caught.value.problems["enterprise"][0]

    def test_a_submitted_application_cannot_be_edited_or_given_files(self) -> None:
        application = make_submittable(self.alice)
        actions.submit_application(application, actor=self.alice)
        with pytest.raises(actions.ActionRefused):
            actions.update_draft(application, {"work_title": "改名"}, actor=self.alice)
        with pytest.raises(actions.ActionRefused, match="材料已锁定"):
            actions.add_material(
                application, MaterialKind.OTHER, checked("x.pdf", pdf_bytes()), actor=self.alice
            )
        material = application.materials.first()
        assert material is not None
        with pytest.raises(actions.ActionRefused):
            actions.remove_draft_material(material, actor=self.alice)
        with pytest.raises(actions.ActionRefused):
            actions.submit_application(application, actor=self.alice)

    def test_a_supplement_adds_a_new_version_and_keeps_the_old(self) -> None:
        application = make_submittable(self.alice)
        actions.submit_application(application, actor=self.alice)
        # The review app moves the application to supplement_requested (docs/states.md).
        Application.objects.filter(pk=application.pk).update(status=Status.SUPPLEMENT_REQUESTED)
        new = actions.add_material(
            application,
            MaterialKind.SETTLEMENT_VOUCHER,
            checked("新凭证.pdf", pdf_bytes("v2")),
            actor=self.alice,
        )
        assert (new.version, new.supplement_round, new.locked) == (2, 1, False)
        vouchers = application.materials.filter(kind=MaterialKind.SETTLEMENT_VOUCHER)
        assert vouchers.count() == 2
        current = application.current_materials().filter(kind=MaterialKind.SETTLEMENT_VOUCHER)
        assert list(current) == [new]
        assert actions.lock_materials(application) == 1

    def test_review_cannot_start_after_withdrawal(self) -> None:
        application = make_submittable(self.alice)
        actions.submit_application(application, actor=self.alice)
        Application.objects.filter(pk=application.pk).update(status=Status.INITIAL_REVIEW)
        with pytest.raises(actions.ActionRefused, match="审核已开始"):
            actions.withdraw_application(application, actor=self.alice)

    def test_only_the_enterprises_own_user_may_submit(self) -> None:
        application = make_submittable(self.alice)
        with pytest.raises(PermissionDenied):
            actions.submit_application(application, actor=self.bob)
        with pytest.raises(PermissionDenied):
            actions.submit_application(application, actor=self.reviewer)
