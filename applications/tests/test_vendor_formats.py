"""Vendor exports read as they come (docs/usage-formats.md): one test per format, with the file laid out
as the vendor exports it, a bad record named by its line and the good records kept."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from django.test import SimpleTestCase

from applications.tests.factories import consumption_csv
from applications.vendor_formats import parse_file, read_files
from applications.vendor_formats.base import FileResult

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "usage"
NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)


def read(name: str) -> FileResult:
    return parse_file(name, (FIXTURES / name).read_bytes(), now=NOW)


def line_of(name: str, needle: str) -> int:
    for number, text in enumerate((FIXTURES / name).read_text(encoding="utf-8-sig").splitlines(), start=1):
        if needle in text:
            return number
    raise AssertionError(needle)


class VendorFormatTests(SimpleTestCase):
    def test_it_reads_a_volcengine_list_bill_detail_response(self) -> None:
        result = read("volcengine_ListBillDetail.json")
        assert result.format == "volcengine"
        assert result.records == 3
        tokens, gpu = result.lines
        assert (tokens.quantity, tokens.unit, tokens.category) == (Decimal("2450000"), "token", "video")
        assert (tokens.list_amount, tokens.coupon, tokens.payable, tokens.paid) == (
            Decimal("36.75"),
            Decimal("5.00"),
            Decimal("31.75"),
            Decimal("31.75"),
        )
        assert tokens.day == dt.date(2026, 11, 3) and tokens.bill_line_id == "BD202611-0001"
        assert (gpu.quantity, gpu.unit, gpu.category, gpu.paid) == (
            Decimal("10"),
            "instance_hour",
            "gpu_instance",
            Decimal("270.00"),
        )
        [bad] = result.rejections
        assert bad.line == line_of("volcengine_ListBillDetail.json", '"BillDetailId": "BD202611-0002"') - 1
        assert "Count" in bad.reason and "many" in bad.reason
        assert "volcengine_ListBillDetail.json 第" in bad.message()

    def test_it_reads_a_volcengine_console_csv_and_names_an_unknown_unit(self) -> None:
        result = read("volcengine_console.csv")
        assert result.format == "volcengine"
        [line] = result.lines
        assert (line.quantity, line.unit, line.paid) == (Decimal("1000000"), "token", Decimal("15.00"))
        [bad] = result.rejections
        assert bad.line == 3 and "GB/月" in bad.reason

    def test_it_reads_ark_generation_tasks_and_a_failed_task_costs_nothing(self) -> None:
        result = read("ark_tasks.json")
        assert result.format == "ark"
        assert [line.task_id for line in result.lines] == [
            "cgt-20261103100000-aaaa1",
            "cgt-20261103100500-bbbb2",
            "cgt-20261103101500-dddd4",
        ]
        first, failed, last = result.lines
        assert (first.quantity, first.unit, first.output_seconds, first.resolution) == (
            Decimal("245000"),
            "token",
            Decimal("5"),
            "1080p",
        )
        assert failed.failed and failed.quantity == 0 and failed.cash() == 0
        assert last.quantity == Decimal("490000")
        assert first.period_start == dt.datetime.fromtimestamp(1793686800, tz=dt.UTC)
        [bad] = result.rejections
        assert bad.line == line_of("ark_tasks.json", '"id": "cgt-20261103101000-cccc3"') - 1
        assert "usage.completion_tokens" in bad.reason

    def test_it_reads_an_aliyun_bill_with_grouped_headers(self) -> None:
        result = read("aliyun_grouped.csv")
        assert result.format == "aliyun"
        video, text = result.lines
        assert (video.quantity, video.unit, video.category) == (Decimal("300"), "video_second", "video")
        assert (video.list_amount, video.coupon, video.payable) == (
            Decimal("210.00"),
            Decimal("10.00"),
            Decimal("200.00"),
        )
        assert video.bill_line_id == "ALI-2026-11-0001" and video.bill_period == "2026-11"
        assert (text.quantity, text.unit, text.category) == (Decimal("120000"), "token", "text")
        [bad] = result.rejections
        assert bad.line == 3 and "用量不能为负数" in bad.reason

    def test_it_reads_an_aliyun_bill_with_the_older_flat_headers(self) -> None:
        result = read("aliyun_flat.csv")
        assert result.format == "aliyun"
        [line] = result.lines
        assert (line.quantity, line.unit, line.category, line.payable, line.list_amount) == (
            Decimal("48"),
            "instance_hour",
            "gpu_instance",
            Decimal("518.40"),
            Decimal("576.00"),
        )
        assert line.cash() == Decimal("518.40")
        [bad] = result.rejections
        assert bad.line == 3 and "应付金额" in bad.reason

    def test_it_reads_dashscope_task_results_billed_per_generated_second(self) -> None:
        result = read("dashscope_tasks.jsonl")
        assert result.format == "dashscope"
        assert [(line.quantity, line.status) for line in result.lines] == [
            (Decimal("5"), "succeeded"),
            (Decimal("0"), "failed"),
            (Decimal("10"), "succeeded"),
        ]
        assert result.lines[0].unit == "video_second" and result.lines[0].output_seconds == Decimal("5")
        [bad] = result.rejections
        assert bad.line == 3 and "尚未完成" in bad.reason

    def test_it_reads_a_tencent_describe_bill_detail_response(self) -> None:
        result = read("tencent_DescribeBillDetail.json")
        assert result.format == "tencent"
        [line] = result.lines
        assert (line.quantity, line.unit, line.category) == (Decimal("1"), "instance_hour", "gpu_instance")
        assert (line.list_amount, line.discount, line.payable, line.coupon, line.paid) == (
            Decimal("40.00"),
            Decimal("4.00"),
            Decimal("36.00"),
            Decimal("6.00"),
            Decimal("30.00"),
        )
        assert line.cash() == Decimal("30.00")
        [bad] = result.rejections
        assert bad.line == line_of("tencent_DescribeBillDetail.json", '"BillId": "20261115100000002"') - 3
        assert "ComponentSet" in bad.reason

    def test_it_reads_kling_tasks_in_pack_units(self) -> None:
        result = read("kling_tasks.json")
        assert result.format == "kling"
        first, failed, last = result.lines
        assert (first.quantity, first.unit, first.pack_units, first.output_seconds) == (
            Decimal("2"),
            "pack_unit",
            Decimal("2"),
            Decimal("5.1"),
        )
        assert failed.failed and failed.pack_units is None
        assert last.quantity == Decimal("4")
        [bad] = result.rejections
        assert bad.line == line_of("kling_tasks.json", '"task_id": "CjMzP2pjHvcAAAAAANzBAi"') - 1
        assert "final_unit_deduction" in bad.reason

    def test_it_reads_kling_resource_packs_from_account_costs(self) -> None:
        result = read("kling_account_costs.json")
        assert result.format == "kling"
        [pack] = result.lines
        assert (pack.kind, pack.quantity, pack.pack_id) == (
            "pack_purchase",
            Decimal("1000.0"),
            "509f3fd3d4f84f40b1cd4e1e0c6b0c7e",
        )
        [bad] = result.rejections
        assert "resource_pack_id" in bad.reason and bad.line > 1

    def test_it_reads_openai_style_usage_lines_from_a_relay(self) -> None:
        result = read("relay_usage.jsonl")
        assert result.format == "openai"
        assert [(line.unit, line.quantity) for line in result.lines] == [
            ("input_token", Decimal("1200")),
            ("output_token", Decimal("3400")),
            ("input_token", Decimal("800")),
            ("output_token", Decimal("2100")),
        ]
        assert [(r.line, "prompt_tokens" in r.reason or "JSON" in r.reason) for r in result.rejections] == [
            (2, True),
            (3, True),
        ]

    def test_it_still_reads_the_earlier_gpu_template_keeping_good_rows(self) -> None:
        rows = [
            ("JOB-1", "2026-03-01 08:00", "2026-03-01 08:30", "H200", 8, 30, "5000", "20000.00", "render"),
            ("JOB-2", "2026-03-01 09:00", "2026-03-01 08:30", "H200", 1, 30, "5000", "2500.00", "render"),
        ]
        result = parse_file("明细.csv", consumption_csv(rows), now=NOW)
        assert result.format == "template"
        [line] = result.lines
        assert (line.kind, line.unit, line.quantity, line.paid) == (
            "gpu_time",
            "gpu_second",
            Decimal(8 * 30 * 60),
            Decimal("20000.00"),
        )
        assert {r.line for r in result.rejections} == {3}

    def test_it_reads_the_usage_template_and_names_a_bad_row(self) -> None:
        content = (
            "\ufeff类型,厂商,代理方,模型或规格,任务编号,用量,单位,目录金额（元）,优惠券抵扣（元）,算力券抵扣（元）,应付金额（元）,实付金额（元）\n"
            "模型服务,火山方舟,某某中转科技有限公司,doubao-seedance-1-0-pro,,2450000,token,44.10,,,44.10,44.10\n"
            "模型服务,火山方舟,,doubao-seedance,,abc,token,,,,1.00,1.00\n"
        ).encode()
        result = parse_file("模板.csv", content, now=NOW)
        assert result.format == "template"
        [line] = result.lines
        assert (line.reseller_name, line.quantity, line.paid) == (
            "某某中转科技有限公司",
            Decimal("2450000"),
            Decimal("44.10"),
        )
        [bad] = result.rejections
        assert bad.line == 3 and "用量" in bad.reason

    def test_an_unrecognised_file_is_named_and_other_files_stay(self) -> None:
        evidence = read_files(
            [("备注.txt", "这不是账单".encode()), ("ark.json", (FIXTURES / "ark_tasks.json").read_bytes())],
            now=NOW,
        )
        assert [f.format for f in evidence.files] == ["", "ark"]
        assert evidence.files[0].rejections and "无法识别" in evidence.files[0].rejections[0].reason
        assert len(evidence.lines) == 3
