"""Declaring compute as it was bought (docs/usage-formats.md): a drama made with hosted generation
services, and a company that rents GPUs, each submitted with an honest detail."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import time_machine

from applications import actions, checks
from applications.models import MaterialKind, UsageFile, UsageLineRow
from applications.tests.factories import add_required_materials, checked, consumption_csv, make_draft
from applications.usage_lines import summary_totals
from applications.usage_store import declared_lines, usage_base
from testing.fixtures import BaseTestCase

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "usage"
TODAY = dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
LAUNCH = dt.date(2026, 11, 30)

# The applicant's own lines in the platform template: the reseller's Seedance tokens (its markup
# included, a coupon taken off), the 可灵 pack bought, 通义万相 seconds partly paid with a 算力券.
TEMPLATE = (
    "\ufeff类型,厂商,代理方,代理方统一社会信用代码,模型或规格,任务编号,用量,单位,资源包编号,"
    "目录金额（元）,优惠券抵扣（元）,算力券抵扣（元）,应付金额（元）,实付金额（元）,发票号码\n"
    "模型服务,火山方舟,北京某某中转科技有限公司,91110116MA01ABCD1X,doubao-seedance-1-0-pro,,24500000,token,,"
    "529.20,20.00,,509.20,509.20,26112000000012345678\n"
    "资源包购买,可灵,,,视频生成-1000条,,1000,资源包单位,509f3fd3d4f84f40b1cd4e1e0c6b0c7e,"
    "3000.00,,,3000.00,3000.00,26112000000012345679\n"
    "模型服务,阿里云百炼,,,wanx2.1-t2v-plus,,720,生成视频秒,,504.00,,100.00,504.00,404.00,26112000000012345680\n"
)
# 509.20 + 404.00 (the voucher's 100 left out) + 200.00 + 0.96 (阿里云 bill) + 6 pack units × 3.00
BASE = Decimal("1132.16")


@time_machine.travel(TODAY, tick=False)
class UsageDeclarationTests(BaseTestCase):
    def upload(self, application: object, name: str, content: bytes) -> None:
        kind = MaterialKind.CONSUMPTION_DETAIL
        actions.add_material(application, kind, checked(name, content, kind), actor=self.alice)  # type: ignore[arg-type]

    def test_a_96_minute_drama_made_with_hosted_services_is_submitted_with_row_23_the_computed_base(
        self,
    ) -> None:
        application = make_draft(
            self.alice,
            work_minutes=96,
            compute_minutes=96,
            launch_date=LAUNCH,
            provider_name="北京某某中转科技有限公司",
            total_compute_cost=BASE,
        )
        add_required_materials(application, self.alice, detail=TEMPLATE.encode())
        for name in ("kling_tasks.json", "kling_account_costs.json", "aliyun_grouped.csv", "ark_tasks.json"):
            self.upload(application, name, (FIXTURES / name).read_bytes())

        base = usage_base(application)
        assert base.total == BASE
        assert base.coupons == Decimal("30.00")  # 20 on the reseller's line, 10 on the 阿里云 bill
        assert base.vouchers == Decimal("100.00")
        assert base.packs == Decimal("18.00")
        # Vendor exports keep their good lines; the bad ones are named for the reviewer.
        kling = UsageFile.objects.get(material__original_name="kling_tasks.json")
        assert kling.format == "kling" and len(kling.rejections) == 1
        totals = summary_totals(declared_lines(application))
        assert totals["tokens"] == Decimal(
            "24620000.00"
        )  # the bill's tokens + 120k of qwen; tasks are evidence
        assert totals["pack_units"] == Decimal("6.00")

        submitted = actions.submit_application(application, actor=self.alice)
        assert submitted.total_compute_cost == BASE
        assert submitted.requested_amount == Decimal("339.65")  # 30 % of the base, coupons and voucher out

    def test_row_23_typed_larger_than_the_base_is_refused_with_the_breakdown(self) -> None:
        application = make_draft(
            self.alice, work_minutes=96, compute_minutes=96, launch_date=LAUNCH, total_compute_cost=BASE + 100
        )
        add_required_materials(application, self.alice, detail=TEMPLATE.encode())
        problems = checks.submission_problems(application)
        [message] = problems["total_compute_cost"]
        assert "不计优惠券" in message and "算力券 100.00 元" in message

    def test_a_gpu_renting_companys_honest_detail_with_hours_far_above_the_runtime_is_accepted(self) -> None:
        rows = [
            ("GPU-1", "2026-11-02 08:00", "2026-11-02 14:00", "H200", 1, 360, "20.00", "120.00", "render"),
            ("GPU-2", "2026-11-03 08:00", "2026-11-03 14:00", "H200", 1, 345, "20.00", "115.00", "render"),
        ]
        application = make_draft(
            self.alice,
            work_minutes=96,
            compute_minutes=96,
            launch_date=LAUNCH,
            total_compute_cost=Decimal("235.00"),
        )
        add_required_materials(application, self.alice, detail=consumption_csv(rows))
        assert summary_totals(declared_lines(application))["gpu_hours"] == Decimal("11.75")
        submitted = actions.submit_application(application, actor=self.alice)
        assert submitted.requested_amount == Decimal("70.50")

    def test_a_template_with_a_bad_row_is_refused_naming_the_row(self) -> None:
        application = make_draft(self.alice, launch_date=LAUNCH)
        bad = TEMPLATE + "模型服务,可灵,,,kling-v2,,3,资源包单位,,,,,,,\n"
        content = bad.replace("24500000,token", "24500000,斤").encode()
        try:
            self.upload(application, "明细.csv", content)
        except actions.ConsumptionDetailRejected as exc:
            assert [e.row for e in exc.result.errors] == [2]
            assert "斤" in exc.result.errors[0].message
        else:
            raise AssertionError("a template with a bad row must be refused")
        assert not UsageLineRow.objects.exists()

    def test_a_vendor_export_with_a_bad_line_is_accepted_and_the_page_names_the_line(self) -> None:
        from django.core.files.uploadedfile import SimpleUploadedFile
        from django.urls import reverse

        application = make_draft(self.alice, launch_date=LAUNCH)
        self.login(self.alice)
        content = (FIXTURES / "aliyun_grouped.csv").read_bytes()
        response = self.client.post(
            reverse("applications:material_upload", args=[application.pk]),
            {
                "kind": MaterialKind.CONSUMPTION_DETAIL,
                "file": SimpleUploadedFile("费用明细.csv", content, "text/csv"),
            },
            follow=True,
        )
        page = response.content.decode()
        assert "“费用明细.csv”中有 1 行未计入（第 3 行：用量不能为负数）" in page
        assert UsageLineRow.objects.filter(application=application).count() == 2
