"""达标即享 (docs/offers.md): a registered work's usage accumulates in the log; its launch triggers an offer
computed from that usage; one step accepts it, the signer with the right confirms, and the final 申请表
is sealed with the application number and the declaration."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import time_machine
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from applications.models import Application, Material, MaterialKind, Offer, Work
from applications.states import Status
from applications.tests.factories import checked
from applications.usage_store import declared_lines
from applications.works import WorkRefused, platform_held_kinds, register_work
from audits.tests.fixtures import Monitoring
from core.models import Notification
from enterprises.actions import grant_delegation
from enterprises.models import Enterprise, LicenceVersion, Provider, Right
from monitoring.usage_lines import record_usage_lines
from policy.calendar import get_calendar
from policy.loader import params_at
from policy.rules import calculate_subsidy
from review import offer_deadlines, offers
from testing.fixtures import BaseTestCase, make_user, pades_status, png_bytes

BEIJING = dt.timezone(dt.timedelta(hours=8))
TODAY = dt.datetime(2026, 12, 4, 10, 0, tzinfo=BEIJING)
LAUNCH = dt.date(2026, 11, 30)
FILING = "京剧备字2026-0888"


def reseller_lines(uscc: str, ref: str) -> list[dict[str, Any]]:
    """A reseller's bill lines for the work: Seedance tokens (coupon off) and 万相 seconds."""
    return [
        {
            "line_id": "R-1", "enterprise_uscc": uscc, "work_ref": ref, "kind": "model_service",
            "vendor": "火山方舟", "category": "video", "sku": "doubao-seedance-1-0-pro", "day": "2026-11-20",
            "quantity": "24500000", "unit": "token", "list_amount": "529.20", "coupon": "20.00",
            "payable": "509.20", "paid": "509.20", "invoice_no": "26112000000012345678",
        },
        {
            "line_id": "R-2", "enterprise_uscc": uscc, "work_ref": ref, "kind": "model_service",
            "vendor": "阿里云百炼", "category": "video", "sku": "wanx2.1-t2v-plus", "day": "2026-11-21",
            "quantity": "720", "unit": "video_second", "payable": "504.00", "voucher": "100.00", "paid": "404.00",
        },
    ]  # fmt: skip


@time_machine.travel(TODAY, tick=False)
class OfferTests(BaseTestCase):
    handler: User
    reseller: Provider

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        LicenceVersion.objects.create(
            enterprise=cls.enterprise, version=1, file="licences/x.pdf", sha256="0" * 64, mime="application/pdf",
            original_name="营业执照.pdf", status=LicenceVersion.Status.VERIFIED, uploaded_at=TODAY,
            verified_at=TODAY, verified_by=cls.reviewer,
        )  # fmt: skip
        cls.handler = make_user(
            "handler",
            Role.APPLICANT,
            enterprise=cls.enterprise,
            display_name="李晓雯",
            email="lxw@example.cn",
        )
        cls.alice.display_name = "周明远"
        cls.alice.save(update_fields=["display_name"])
        cls.reseller = Provider.objects.create(
            name="北京某某中转科技有限公司", status=Provider.Status.APPROVED
        )

    def launched(self) -> Offer:
        work = register_work(
            actor=self.alice, title="龙城夜雨", expected_filing_number=FILING, planned_platforms="红果短剧"
        )
        assert work.reference and work.reference.startswith("ZP2026-")
        # Usage of every kind accumulates against the work's reference before any application exists.
        self.gpu = Monitoring(self.provider).hours(
            self.enterprise.uscc,
            work.reference,
            dt.datetime(2026, 11, 10, 8, tzinfo=BEIJING),
            3,
            cost="100.00",
        )
        result = record_usage_lines(
            self.reseller, reseller_lines(self.enterprise.uscc, work.reference), actor_repr="t"
        )
        assert result.as_dict()["accepted"] == 2
        with self.captureOnCommitCallbacks(execute=True):
            offer = offers.record_launch(
                work,
                actor=self.alice,
                launch_date=LAUNCH,
                platforms="红果短剧",
                play_url="https://example.cn/play/1",
                filing_number=FILING,
                work_minutes=96,
                screenshot=checked("上线截图.png", png_bytes()),
            )
        # The center checks the filing certificate from its workbench, so it is not asked again.
        self.client.force_login(self.reviewer)
        response = self.client.post(reverse("review:work_verify_filing", args=[work.pk]))
        assert response.status_code == 302 and Work.objects.get(pk=work.pk).filing_verified
        self.client.logout()
        return offer

    def test_it_offers_a_launched_work_the_subsidy_of_its_logged_usage_and_one_step_submits_it(self) -> None:
        offer = self.launched()
        base = Decimal("300.00") + Decimal("509.20") + Decimal("404.00")
        assert offer.base == base
        expected = calculate_subsidy(
            total_compute_cost=base,
            work_minutes=96,
            overseas=False,
            granted_this_year=Decimal("0"),
            params=params_at(TODAY.date()),
        ).amount
        assert offer.estimate == expected
        notice = Notification.objects.get(user=self.alice, kind=Notification.Kind.OFFER)
        assert f"{expected:,.2f}" in notice.title
        assert "平台已持有" in notice.body and "尚需您提供" in notice.body
        # Every line names its log leaf.
        assert len(offer.lines) == 5 and all(line["leaf_index"] is not None for line in offer.lines)

        with self.captureOnCommitCallbacks(execute=True):
            application = offers.accept_offer(offer, actor=self.alice)
        assert application.enterprise_name == self.enterprise.name  # rows 1–9
        assert (application.work_title, application.filing_number, application.launch_date) == (
            "龙城夜雨",
            FILING,
            LAUNCH,
        )
        with self.captureOnCommitCallbacks(execute=True):
            submitted = offers.confirm_offer(application, actor=self.alice)
        assert submitted.status == Status.SUBMITTED and submitted.reference
        # Rows 21–23 and the detail equal the log's lines.
        assert submitted.provider_name == "怀柔智算中心、北京某某中转科技有限公司"
        assert submitted.total_compute_cost == base
        assert submitted.compute_minutes == 96
        lines = declared_lines(submitted)
        assert sorted(line.raw_sha256 for line in lines) == sorted(line["raw_sha256"] for line in offer.lines)
        assert {line.source for line in lines} == {"agent_signed", "provider_reported"}
        # No upload but the launch proof: everything else is generated or held by the platform.
        materials = Material.objects.filter(application=submitted)
        kinds = set(materials.values_list("kind", flat=True))
        assert kinds == {
            MaterialKind.CONSUMPTION_DETAIL, MaterialKind.USAGE_LOG, MaterialKind.LAUNCH_PROOF,
            MaterialKind.APPLICATION_FORM,
        }  # fmt: skip
        assert platform_held_kinds(submitted) >= {
            MaterialKind.SETTLEMENT_VOUCHER,
            MaterialKind.FILING_CERTIFICATE,
        }
        proof = materials.get(kind=MaterialKind.LAUNCH_PROOF)
        assert proof.sha256 == Work.objects.get(pk=offer.work_id).screenshot_sha256
        assert Offer.objects.get(pk=offer.pk).status == Offer.Status.ACCEPTED

    def test_a_handler_without_the_signing_right_cannot_confirm(self) -> None:
        grant_delegation(
            self.enterprise, self.handler, rights=[Right.PREPARE, Right.SUBMIT], expires_on=dt.date(2027, 3, 31),
            actor=self.alice,
        )  # fmt: skip
        offer = self.launched()
        application = offers.accept_offer(offer, actor=self.handler)
        with self.assertRaises(Exception) as refused:
            offers.confirm_offer(application, actor=self.handler)
        assert "签署" in str(refused.exception)
        assert Application.objects.get(pk=application.pk).status == Status.DRAFT

    def test_with_the_signing_right_the_form_names_the_handler_and_the_authorising_legal_representative(
        self,
    ) -> None:
        grant_delegation(
            self.enterprise, self.handler, rights=[Right.PREPARE, Right.SUBMIT, Right.SIGN],
            expires_on=dt.date(2027, 3, 31), actor=self.alice,
        )  # fmt: skip
        offer = self.launched()
        application = offers.accept_offer(offer, actor=self.handler)
        submitted = offers.confirm_offer(application, actor=self.handler)
        html = _form_html(submitted)
        assert "经办人 李晓雯（经法定代表人 周明远 授权，授权至 2027年3月31日）" in html
        assert "法定代表人 李晓雯" not in html
        # The signature line names the one who confirmed, not the legal representative's title.
        assert '<td class="label">在线确认人</td>' in html

    def test_the_legal_representatives_own_confirmation_names_only_them(self) -> None:
        offer = self.launched()
        submitted = offers.confirm_offer(offers.accept_offer(offer, actor=self.alice), actor=self.alice)
        html = _form_html(submitted)
        assert "确认人：法定代表人 周明远）" in html
        assert "经办人 " not in html.split("确认人：")[1][:40]

    def test_the_final_form_carries_the_application_number_and_the_declaration_and_validates_with_pyhanko(
        self,
    ) -> None:
        offer = self.launched()
        submitted = offers.confirm_offer(offers.accept_offer(offer, actor=self.alice), actor=self.alice)
        form = Material.objects.get(application=submitted, kind=MaterialKind.APPLICATION_FORM)
        assert form.locked
        with default_storage.open(str(form.file.name), "rb") as handle:
            content = handle.read()
        status = pades_status(content)
        assert status.intact and status.valid and status.trusted
        text = _pdf_text(content)
        assert submitted.reference and submitted.reference in text
        assert "本企业郑重声明" in text and "法定代表人 周明远" in text

    def test_an_offer_not_taken_by_its_apply_by_date_expires_and_shows_on_the_workbench(self) -> None:
        offer = self.launched()
        assert offer_deadlines.expire_offers(offer.apply_by) == 0
        with self.captureOnCommitCallbacks(execute=True):
            assert offer_deadlines.expire_offers(offer.apply_by + dt.timedelta(days=1)) == 1
        offer.refresh_from_db()
        assert offer.status == Offer.Status.EXPIRED
        assert Notification.objects.filter(user=self.alice, kind=Notification.Kind.OFFER_EXPIRED).count() == 1
        self.login(self.reviewer)
        page = self.client.get(reverse("review:workbench")).content.decode()
        assert "龙城夜雨" in page and "已过期未领取" in page

    def test_reminders_are_sent_once_each(self) -> None:
        offer = self.launched()
        calendar = get_calendar()
        ten_before = _workdays_before(calendar, offer.apply_by, 10)
        three_before = _workdays_before(calendar, offer.apply_by, 3)
        with self.captureOnCommitCallbacks(execute=True):
            assert offer_deadlines.send_offer_reminders(ten_before - dt.timedelta(days=1)) == 0
            assert offer_deadlines.send_offer_reminders(ten_before) == 1
            assert offer_deadlines.send_offer_reminders(ten_before) == 0
            assert offer_deadlines.send_offer_reminders(three_before) == 1
            assert offer_deadlines.send_offer_reminders(three_before + dt.timedelta(days=1)) == 0
        assert (
            Notification.objects.filter(user=self.alice, kind=Notification.Kind.OFFER_REMINDER).count() == 2
        )

    def test_the_summary_measures_the_share_from_offers_the_median_working_days_and_the_offers_expired(
        self,
    ) -> None:
        import json

        from django.core.management import call_command

        from testing.fixtures import make_application

        offers.confirm_offer(offers.accept_offer(self.launched(), actor=self.alice), actor=self.alice)
        make_application(self.enterprise, self.alice, Status.SUBMITTED)
        other = register_work(actor=self.alice, title="第二部")
        Work.objects.filter(pk=other.pk).update(launch_date=dt.date(2026, 10, 8), work_minutes=10)
        Offer.objects.create(
            work=other, estimate=0, base=0, apply_by=dt.date(2026, 11, 19), status=Offer.Status.EXPIRED,
            created_at=TODAY,
        )  # fmt: skip
        out = io.StringIO()
        call_command("reports", "summary", "--year", "2026", "--json", stdout=out)
        data = json.loads(out.getvalue())["offers"]
        assert (data["from_offer"], data["submitted"], data["share_pct"]) == (1, 2, 50.0)
        assert data["median_launch_to_submission"] == 4.0  # 2026-11-30 → 2026-12-04
        assert data["expired"] == 1
        self.login(self.reviewer)
        page = self.client.get(reverse("reports:dashboard") + "?year=2026").content.decode()
        assert 'id="offer-service"' in page

    def test_where_the_district_requires_paper_the_stamped_form_is_asked_for(self) -> None:
        import shutil
        import tempfile
        from pathlib import Path

        from django.test import override_settings

        from applications.actions import SubmissionRefused
        from policy.loader import DEFAULT_DIRECTORY

        offer = self.launched()
        application = offers.accept_offer(offer, actor=self.alice)
        with tempfile.TemporaryDirectory() as folder:
            copy = Path(folder) / "parameters"
            shutil.copytree(DEFAULT_DIRECTORY, copy)
            target = copy / "form.stamped_copy_required.yaml"
            target.write_text(target.read_text().replace("value: false", "value: true"))
            with override_settings(POLICY_PARAMETERS_DIR=str(copy)):
                assert MaterialKind.APPLICATION_FORM not in platform_held_kinds(application)
                with self.assertRaises(SubmissionRefused) as refused:
                    offers.confirm_offer(application, actor=self.alice)
        assert "盖章申请表" in str(refused.exception.message_dict["materials"])
        assert MaterialKind.APPLICATION_FORM in platform_held_kinds(application)

    def test_declared_and_platform_held_lines_are_mixed_and_row_23_is_their_base(self) -> None:
        from applications import actions
        from applications.tests.test_usage_declaration import TEMPLATE
        from audits.evidence import evidence_for
        from testing.fixtures import pdf_bytes

        offer = self.launched()
        application = offers.accept_offer(offer, actor=self.alice)
        kind = MaterialKind.CONSUMPTION_DETAIL
        actions.add_material(
            application, kind, checked("自报明细.csv", TEMPLATE.encode(), kind), actor=self.alice
        )
        # Usage no provider reported needs its settlement vouchers.
        assert MaterialKind.SETTLEMENT_VOUCHER not in platform_held_kinds(application)
        voucher = checked("结算单.pdf", pdf_bytes())
        actions.add_material(application, MaterialKind.SETTLEMENT_VOUCHER, voucher, actor=self.alice)
        submitted = offers.confirm_offer(application, actor=self.alice)
        assert submitted.total_compute_cost == offer.base + Decimal("913.20")
        sources = {line.source for line in declared_lines(submitted)}
        assert sources == {"agent_signed", "provider_reported", "applicant_declared"}
        levels = {level.code: level for level in evidence_for(submitted).levels}
        assert levels["declared"].reached

    def test_the_offer_page_the_notice_and_the_generated_detail_show_no_internal_code(self) -> None:
        from openpyxl import load_workbook

        from yingdu.tests import wording

        offer = self.launched()
        self.login(self.alice)
        page = self.client.get(reverse("review:offer", args=[offer.pk])).content.decode()
        text = page.split("<main", 1)[-1]
        import re

        visible = re.sub(r"<[^>]+>", " ", text)
        assert not wording.problems_in(visible, "offer page")
        notice = Notification.objects.get(user=self.alice, kind=Notification.Kind.OFFER)
        assert not wording.mail_problems([(notice.title, notice.body)])
        application = offers.accept_offer(offer, actor=self.alice)
        detail = Material.objects.get(application=application, kind=MaterialKind.CONSUMPTION_DETAIL)
        with default_storage.open(str(detail.file.name), "rb") as handle:
            content = handle.read()
        assert not wording.workbook_problems(content, "detail")
        sheet = load_workbook(io.BytesIO(content)).active
        assert sheet is not None and sheet["B1"].value == "日志叶序号"

    def test_the_enterprise_registers_and_launches_a_work_from_its_pages_and_bad_input_is_named(self) -> None:
        from django.core.files.uploadedfile import SimpleUploadedFile

        self.login(self.alice)
        response = self.client.post(reverse("review:works"), {"title": "山海经", "planned_platforms": "抖音"})
        assert response.status_code == 302
        work = Work.objects.get(title="山海经")
        page = self.client.get(reverse("review:works")).content.decode()
        assert work.reference and work.reference in page
        url = reverse("review:work_launch", args=[work.pk])
        data = {
            "launch_date": "2026-12-01",
            "platforms": "抖音",
            "play_url": "https://example.cn/p/9",
            "filing_number": "京剧备字2026-0999",
            "work_minutes": "20",
        }
        bad = self.client.post(url, {**data, "screenshot": SimpleUploadedFile("a.png", b"not an image")})
        assert bad.status_code == 400 and not Offer.objects.exists()
        good = self.client.post(url, {**data, "screenshot": SimpleUploadedFile("a.png", png_bytes())})
        offer = Offer.objects.get(work=work)
        assert good.status_code == 302 and good["Location"] == reverse("review:offer", args=[offer.pk])
        # Another enterprise's user sees nothing of it.
        self.login(self.bob)
        assert self.client.get(reverse("review:offer", args=[offer.pk])).status_code == 404
        assert self.client.get(url).status_code == 404

    def test_the_enterprise_can_decline_an_offer(self) -> None:
        offer = self.launched()
        declined = offers.decline_offer(offer, actor=self.alice, reason="不申请")
        assert declined.status == Offer.Status.DECLINED
        with self.assertRaises(WorkRefused):
            offers.accept_offer(declined, actor=self.alice)

    def test_a_launch_in_the_future_is_refused_with_its_reason(self) -> None:
        work = register_work(actor=self.alice, title="未来之作")
        with self.assertRaises(WorkRefused) as refused:
            offers.record_launch(
                work, actor=self.alice, launch_date=dt.date(2026, 12, 31), platforms="抖音",
                play_url="https://example.cn/p", filing_number=FILING, work_minutes=10,
                screenshot=checked("s.png", png_bytes()),
            )  # fmt: skip
        assert "上线时间不能晚于今天" in str(refused.exception)
        assert Enterprise.objects.get(pk=self.enterprise.pk).works.get().launch_date is None


def _workdays_before(calendar: Any, day: dt.date, n: int) -> dt.date:
    probe = day
    while calendar.workdays_between(probe, day) < n:
        probe -= dt.timedelta(days=1)
    return probe


def _form_html(application: Application) -> str:
    from applications.pdf import render_application_html

    return render_application_html(application)


def _pdf_text(content: bytes) -> str:
    from pypdf import PdfReader

    return "".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(content)).pages)


_ = timezone
