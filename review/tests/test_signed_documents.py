"""Signed documents and signed uploads: the 申请表 and the approval form the platform issues
validate with pyHanko against the development CA; uploaded PDFs' signatures are checked on upload
and their result shows beside the file on the review page."""

from __future__ import annotations

from typing import Any, ClassVar

from django.urls import reverse

from applications import actions as intake
from applications.models import Application, Material, MaterialKind
from applications.pdf import render_application_pdf
from applications.states import Status
from core.filetypes import DOCUMENT_TYPES
from core.uploads import check_upload
from enterprises.actions import upload_licence
from review import actions
from review.tests.helpers import ReviewTestCase
from testing.fixtures import altered, make_application, ofd_bytes, pades_status, pdf_bytes, signed_pdf, upload


class SignedDocumentTests(ReviewTestCase):
    form: ClassVar[bytes]

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.form = render_application_pdf(make_application(cls.enterprise, cls.alice, Status.SUBMITTED))

    def approved(self) -> Any:
        app = make_application(self.enterprise, self.alice, Status.SUBMITTED)
        actions.claim_application(app, actor=self.reviewer)
        actions.pass_initial_review(app, actor=self.reviewer, opinion="材料齐全符合条件")
        actions.pass_re_review(app, actor=self.head, opinion="复核无误同意上报")
        actions.approve_application(app, actor=self.approver, opinion="同意按核定金额补助")
        return app

    def assert_signed_by_the_center(self, content: bytes) -> None:
        status = pades_status(content)
        self.assertTrue(status.intact)
        self.assertTrue(status.valid)
        self.assertTrue(status.trusted)
        self.assertTrue(status.bottom_line)
        self.assertIsNotNone(status.timestamp_validity)
        self.assertTrue(status.timestamp_validity.valid)
        self.assertIn("Document Signing", status.signing_cert.subject.native["common_name"])

    def test_it_signs_the_application_form_so_pyhanko_finds_it_intact_valid_and_trusted(self) -> None:
        self.assert_signed_by_the_center(self.form)

    def test_it_signs_the_approval_form_with_the_three_opinions(self) -> None:
        app = self.approved()
        self.login(self.finance)
        response = self.client.get(reverse("review:approval_form", args=[app.pk]))
        self.assertEqual(response.status_code, 200)
        self.assert_signed_by_the_center(response.content)

    def test_it_reports_a_byte_changed_after_signing_as_modified(self) -> None:
        status = pades_status(altered(self.form))
        self.assertFalse(status.intact)
        self.assertFalse(status.bottom_line)


class SignedUploadTests(ReviewTestCase):
    """One application with one material of each kind of signature, on the reviewer's page."""

    trusted: ClassVar[bytes]
    untrusted: ClassVar[bytes]
    app: ClassVar[Application]

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.trusted = signed_pdf(signer="星河影业电子签章", organization="北京星河影业有限公司")
        cls.untrusted = signed_pdf(signer="冒名电子签章", organization="冒名影业有限公司", trusted=False)
        cls.app = make_application(cls.enterprise, cls.alice, Status.SUPPLEMENT_REQUESTED)
        for kind, name, content in (
            (MaterialKind.SETTLEMENT_VOUCHER, "结算凭证.pdf", cls.trusted),
            (MaterialKind.FILING_CERTIFICATE, "备案证明.pdf", cls.untrusted),
            (MaterialKind.APPLICATION_FORM, "申请表.pdf", altered(cls.trusted)),
            (MaterialKind.LAUNCH_PROOF, "上线证明.pdf", pdf_bytes()),
            (MaterialKind.OTHER, "电子证照.ofd", ofd_bytes()),
        ):
            intake.add_material(
                cls.app, kind, check_upload(upload(name, content), DOCUMENT_TYPES), actor=cls.alice
            )
        licence = upload_licence(
            cls.enterprise, check_upload(upload("营业执照.pdf", cls.trusted), DOCUMENT_TYPES), actor=cls.alice
        )
        Application.objects.filter(pk=cls.app.pk).update(licence=licence)  # as held on submission

    def material(self, kind: str) -> Material:
        return Material.objects.get(application=self.app, kind=kind)

    def page(self) -> str:
        self.login(self.reviewer)
        response = self.client.get(reverse("review:detail", args=[self.app.pk]))
        self.assertEqual(response.status_code, 200)
        return response.content.decode()

    def badge_of(self, html: str, name: str) -> str:
        """The table cell of the file ``name`` on the review page."""
        start = html.index(name)
        return html[start : html.index("</td>", start)]

    def test_it_shows_a_pdf_signed_by_a_trusted_certificate_as_valid_with_its_signer(self) -> None:
        result = self.material(MaterialKind.SETTLEMENT_VOUCHER).signature
        self.assertEqual(result["status"], "valid")
        self.assertEqual(result["signatures"][0]["signer"], "星河影业电子签章")
        self.assertTrue(result["signatures"][0]["intact"])
        self.assertTrue(result["signatures"][0]["trusted"])
        cell = self.badge_of(self.page(), "结算凭证.pdf")
        self.assertIn('data-signature="valid"', cell)
        self.assertIn(
            'aria-label="电子签名：有效：签署人：星河影业电子签章，北京星河影业有限公司，签署时间：', cell
        )
        self.assertIn(">有效</span>", cell)

    def test_it_warns_of_a_pdf_signed_by_an_untrusted_key_naming_the_signer(self) -> None:
        result = self.material(MaterialKind.FILING_CERTIFICATE).signature
        self.assertEqual(result["status"], "warning")
        self.assertEqual(result["signatures"][0]["problems"], ["untrusted"])
        cell = self.badge_of(self.page(), "备案证明.pdf")
        self.assertIn(">警告</span>", cell)
        self.assertIn("签署人：冒名电子签章，冒名影业有限公司", cell)
        self.assertIn("签名证书不在信任列表中", cell)

    def test_it_warns_of_a_pdf_altered_after_signing_naming_the_signer(self) -> None:
        result = self.material(MaterialKind.APPLICATION_FORM).signature
        self.assertEqual(result["status"], "warning")
        self.assertEqual(result["signatures"][0]["problems"], ["modified"])
        cell = self.badge_of(self.page(), "申请表.pdf")
        self.assertIn(">警告</span>", cell)
        self.assertIn("签署人：星河影业电子签章", cell)
        self.assertIn("签名后文件被修改", cell)

    def test_it_shows_an_unsigned_pdf_as_unsigned(self) -> None:
        self.assertEqual(self.material(MaterialKind.LAUNCH_PROOF).signature["status"], "unsigned")
        cell = self.badge_of(self.page(), "上线证明.pdf")
        self.assertIn(">未签名</span>", cell)
        # Explained: an ordinary upload needs no electronic signature.
        self.assertIn("文件不含电子签名；普通扫描件无需电子签名，不影响受理", cell)

    def test_it_stores_an_ofd_with_its_type_and_shows_its_seal_as_not_verified(self) -> None:
        material = self.material(MaterialKind.OTHER)
        self.assertEqual(material.mime, "application/ofd")
        self.assertTrue(str(material.file.name).endswith(".ofd"))
        self.assertEqual(material.signature["status"], "unverified")
        cell = self.badge_of(self.page(), "电子证照.ofd")
        self.assertIn(">签章未验证</span>", cell)
        self.assertNotIn(">有效</span>", cell)

    def test_it_shows_the_signature_of_the_business_licence_the_platform_holds(self) -> None:
        html = self.page()
        held = html[html.index('id="licence-held"') :]
        held = held[: held.index("</p>")]
        self.assertIn('data-signature="valid"', held)
        self.assertIn("签署人：星河影业电子签章", held)
