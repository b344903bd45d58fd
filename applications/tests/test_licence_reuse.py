"""What the platform holds is not asked again: the verified business licence fills every
application, a changed licence is a new version verified by staff, and an application keeps
the version it was submitted with."""

from __future__ import annotations

import time_machine
from django.urls import reverse
from django.utils import timezone

from applications import actions
from applications.models import Application, MaterialKind
from applications.states import Status
from applications.tests.factories import NOW, add_required_materials, checked, make_draft
from enterprises import actions as enterprise_actions
from enterprises.models import Enterprise, LicenceVersion
from testing.fixtures import BaseTestCase, pdf_bytes, png_bytes


def hold_licence(
    enterprise: Enterprise, version: int = 1, status: str = LicenceVersion.Status.VERIFIED
) -> LicenceVersion:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    path = default_storage.save(f"licenses/test-v{version}.pdf", ContentFile(pdf_bytes()))
    return LicenceVersion.objects.create(
        enterprise=enterprise,
        version=version,
        file=path,
        sha256="ab" * 32,
        mime="application/pdf",
        original_name=f"营业执照v{version}.pdf",
        status=status,
        uploaded_at=timezone.now(),
        verified_at=timezone.now() if status == LicenceVersion.Status.VERIFIED else None,
    )


@time_machine.travel(NOW, tick=False)
class LicenceReuseTests(BaseTestCase):
    def submit_without_licence(self) -> Application:
        application = make_draft(self.alice)
        add_required_materials(application, self.alice, skip=(MaterialKind.BUSINESS_LICENSE,))
        return actions.submit_application(application, actor=self.alice)

    def test_it_submits_a_verified_enterprises_application_without_uploading_the_licence(self) -> None:
        licence = hold_licence(self.enterprise)
        application = self.submit_without_licence()
        assert application.status == Status.SUBMITTED
        assert application.licence == licence
        assert not application.materials.filter(kind=MaterialKind.BUSINESS_LICENSE).exists()

    def test_without_a_verified_licence_the_licence_is_still_asked_for(self) -> None:
        hold_licence(self.enterprise, status=LicenceVersion.Status.PENDING)
        application = make_draft(self.alice)
        add_required_materials(application, self.alice, skip=(MaterialKind.BUSINESS_LICENSE,))
        try:
            actions.submit_application(application, actor=self.alice)
        except actions.SubmissionRefused as exc:
            assert "营业执照复印件" in exc.problems["materials"][0]
        else:  # pragma: no cover - the assertion below says what went wrong
            raise AssertionError("submitted without any licence")

    def test_the_checklist_shows_the_held_licence_as_provided(self) -> None:
        hold_licence(self.enterprise)
        application = make_draft(self.alice)
        self.login(self.alice)
        page = self.client.get(
            reverse("applications:step", args=[application.pk, "materials"])
        ).content.decode()
        held = page.split('class="material-held"')[1].split("</tr>")[0]
        assert held.startswith(' data-kind="business_license"')
        assert "已提供" in held and "第 1 版" in held
        missing = page.split('id="missing-materials"')[1].split("</p>")[0]
        assert "结算凭证" in missing and "营业执照复印件" not in missing

    def test_the_review_page_shows_the_version_submitted_also_after_a_new_upload(self) -> None:
        hold_licence(self.enterprise)
        application = self.submit_without_licence()
        new = enterprise_actions.upload_licence(
            self.enterprise, checked("新执照.png", png_bytes()), actor=self.alice
        )
        assert new.version == 2 and new.status == LicenceVersion.Status.PENDING
        enterprise_actions.verify_licence(new, decision="verified", note="", actor=self.reviewer)
        self.login(self.reviewer)
        page = self.client.get(reverse("review:detail", args=[application.pk])).content.decode()
        held = page.split('id="licence-held"')[1].split("</p>")[0]
        assert "第 1 版 营业执照v1.pdf" in held
        assert "新执照.png" not in held
        application.refresh_from_db()
        assert application.licence is not None and application.licence.version == 1

    def test_a_new_version_is_used_only_once_staff_verify_it(self) -> None:
        hold_licence(self.enterprise)
        new = enterprise_actions.upload_licence(
            self.enterprise, checked("新执照.png", png_bytes()), actor=self.alice
        )
        first = self.submit_without_licence()
        assert first.licence is not None and first.licence.version == 1
        enterprise_actions.verify_licence(new, decision="verified", note="", actor=self.reviewer)
        second = make_draft(self.alice, filing_number="京剧备2026-0002")
        add_required_materials(second, self.alice, skip=(MaterialKind.BUSINESS_LICENSE,))
        second = actions.submit_application(second, actor=self.alice)
        assert second.licence == new

    def test_the_enterprise_uploads_a_new_version_on_its_page_and_a_reviewer_verifies_it(self) -> None:
        from testing.fixtures import upload

        hold_licence(self.enterprise)
        self.login(self.alice)
        url = reverse("enterprises:upload_licence", args=[self.enterprise.pk])
        response = self.client.post(url, {"license": upload("换证.pdf", pdf_bytes(), "application/pdf")})
        assert response.status_code == 302
        self.login(self.reviewer)
        verify = reverse("enterprises:verify_licence", args=[self.enterprise.pk, 2])
        self.client.post(verify, {"decision": "rejected", "note": ""})
        assert LicenceVersion.objects.get(version=2).status == LicenceVersion.Status.PENDING
        self.client.post(verify, {"decision": "verified", "note": ""})
        assert LicenceVersion.objects.get(version=2).status == LicenceVersion.Status.VERIFIED
        page = self.client.get(reverse("enterprises:detail", args=[self.enterprise.pk])).content.decode()
        assert "换证.pdf" in page


class RegistrationLicenceTests(BaseTestCase):
    def test_registration_holds_version_1_and_verifying_the_enterprise_verifies_it(self) -> None:
        from testing.fixtures import USCC_C

        data = {
            "name": "怀柔新立影视有限公司",
            "uscc": USCC_C,
            "registered_address": "北京市怀柔区",
            "operating_address": "北京市怀柔区",
            "legal_rep_name": "钱七",
            "legal_rep_phone": "+8613800138001",
            "handler_name": "钱七",
            "handler_phone": "+8613800138001",
            "handler_email": "qian@example.cn",
        }
        enterprise, user = enterprise_actions.register_enterprise(
            data, checked("执照.pdf", pdf_bytes()), username="qian", password="Yd-test-Passw0rd!"
        )
        assert enterprise.legal_representative == user
        licence = enterprise.licences.get()
        assert (licence.version, licence.status) == (1, LicenceVersion.Status.PENDING)
        enterprise_actions.verify_enterprise(enterprise, decision="verified", note="", actor=self.reviewer)
        licence.refresh_from_db()
        assert licence.status == LicenceVersion.Status.VERIFIED
        assert licence.verified_by == self.reviewer
