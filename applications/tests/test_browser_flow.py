"""The whole intake in a real browser, as a new user would do it; a screenshot of each step
goes to ``artifacts/applications/`` (ignored by git)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import time_machine

from accounts.roles import Role
from applications.models import Application, Material
from applications.states import Status
from applications.tests.factories import NOW, consumption_csv
from enterprises.models import Provider
from testing.browser import login, screenshot
from testing.fixtures import make_enterprise, make_user, pdf_bytes, png_bytes

SHOTS = "applications/flow"


def _write(directory: Path, name: str, content: bytes) -> str:
    path = directory / name
    path.write_bytes(content)
    return str(path)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_new_user_fills_the_whole_flow_fixes_an_error_uploads_downloads_the_pdf_and_submits(
    browser_page: Any, tmp_path: Path
) -> None:
    page = browser_page
    with time_machine.travel(NOW, tick=True):
        Provider.objects.create(name="怀柔智算中心", status=Provider.Status.APPROVED)
        enterprise = make_enterprise("北京影都智造文化传媒有限公司")
        user = make_user(
            "newcomer", Role.APPLICANT, enterprise=enterprise, display_name="李四", email="li@example.cn"
        )

        login(page, user)
        page.goto("/applications/")
        screenshot(page, f"{SHOTS}/00-list")
        page.click("#new-application")
        page.click("#start-application")

        # Step 1: rows 1–9 come from the registration.
        assert page.input_value("#id_enterprise_name") == "北京影都智造文化传媒有限公司"
        screenshot(page, f"{SHOTS}/01-enterprise")
        page.click("button[name=go][value=next]")

        # Step 2: a typo gives a Chinese error at the field and keeps everything typed.
        page.fill("#id_work_title", "龙城夜雨")
        page.fill("#id_filing_number", "京剧备2026-0001")
        page.fill("#id_work_minutes", "六十")
        page.fill("#id_platform_name", "抖音")
        page.fill("#id_launch_date", "2026-03-02")
        page.fill("#id_launch_proof_number", "无")
        page.click("button[name=go][value=next]")
        assert page.locator("#error-work_minutes").inner_text() == "请填写整数分钟"
        assert page.input_value("#id_work_title") == "龙城夜雨"
        assert page.input_value("#id_work_minutes") == "六十"
        screenshot(page, f"{SHOTS}/02-work-error")
        page.fill("#id_work_minutes", "60")
        page.click("button[name=go][value=save]")
        assert "2026年4月14日" in page.locator("#apply-deadline").inner_text()
        screenshot(page, f"{SHOTS}/02-work")
        page.click("button[name=go][value=next]")

        # Step 3: choosing 是 shows rows 17–20; the work is domestic, so 否.
        page.wait_for_load_state("domcontentloaded")  # form.js is deferred
        page.check("input[name=overseas][value='1']")
        assert page.locator("#overseas-fields").is_visible()
        page.check("input[name=overseas][value='0']")
        assert not page.locator("#overseas-fields").is_visible()
        screenshot(page, f"{SHOTS}/03-overseas")
        page.click("button[name=go][value=next]")

        # Step 4: rows 24–25 are computed as the cost is typed.
        page.fill("#id_provider_name", "怀柔智算中心")
        page.fill("#id_compute_minutes", "60")
        page.wait_for_load_state("domcontentloaded")  # htmx is deferred
        with page.expect_response(lambda response: "/estimate/" in response.url):
            page.fill("#id_total_compute_cost", "50000")
        page.wait_for_selector("#estimate-amount:has-text('12,000.00 元')")
        assert "每分钟上限" in page.locator("#estimate").inner_text()
        screenshot(page, f"{SHOTS}/04-compute")
        page.click("button[name=go][value=next]")

        # Step 5: download the generated form, "stamp" it, upload everything.
        with page.expect_download() as download_info:
            page.click("#download-pdf")
        stamped = tmp_path / "盖章申请表.pdf"
        download_info.value.save_as(stamped)
        assert stamped.read_bytes().startswith(b"%PDF")

        def upload_file(kind: str, *paths: str) -> None:
            page.select_option("#id_kind", kind)
            page.set_input_files("#id_file", list(paths))
            page.click("#upload-form button[type=submit]")

        bad_rows = [
            ("JOB-1", "2026-03-01 08:00", "2026-03-01 08:30", "H200", 8, 30, "5000", "二万", "render")
        ]
        upload_file("consumption_detail", _write(tmp_path, "明细-错误.csv", consumption_csv(bad_rows)))
        assert "金额应为大于 0 的金额" in page.locator("#consumption-errors").inner_text()
        screenshot(page, f"{SHOTS}/05-materials-bad-row")

        upload_file("application_form", str(stamped))
        upload_file("business_license", _write(tmp_path, "营业执照.pdf", pdf_bytes()))
        upload_file("filing_certificate", _write(tmp_path, "备案证明.pdf", pdf_bytes()))
        upload_file("consumption_detail", _write(tmp_path, "明细.csv", consumption_csv()))
        upload_file("settlement_voucher", _write(tmp_path, "结算凭证.pdf", pdf_bytes()))
        upload_file("usage_log", _write(tmp_path, "使用日志.pdf", pdf_bytes()))
        upload_file(
            "launch_proof",
            _write(tmp_path, "截图1.png", png_bytes()),
            _write(tmp_path, "截图2.png", png_bytes()),
        )
        assert "按明细计算的总算力成本 50,000.00 元" in page.locator("#consumption-totals").inner_text()
        assert page.locator("#missing-materials").count() == 0
        screenshot(page, f"{SHOTS}/05-materials")
        page.click("#next-step")

        # Step 6: everything checks out; declare and submit.
        assert page.locator("#ready").is_visible()
        page.check("#id_declaration_accepted")
        assert page.input_value("#id_signer_name") == "张三"
        screenshot(page, f"{SHOTS}/06-confirm")
        page.click("#submit-application")

        page.wait_for_selector("#reference")
        reference = page.locator("#reference").inner_text()
        assert reference.startswith("YD2026-")
        assert "提交申报" in page.locator("#timeline").inner_text()
        screenshot(page, f"{SHOTS}/07-submitted")

    application = Application.objects.get(reference=reference)
    assert application.status == Status.SUBMITTED
    assert application.requested_amount is not None and str(application.requested_amount) == "12000.00"
    assert Material.objects.filter(application=application, deleted=False).count() == 8
    assert not Material.objects.filter(application=application, locked=False).exists()
