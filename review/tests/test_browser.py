"""The whole path in a real browser: submit → 初审 → supplement → resubmit → 初审 → 复审 → 审批 → 兑现,
by the applicant, three staff levels and finance, with the e-mails received by an SMTP server on loopback."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from applications import actions as intake
from applications.models import Application, MaterialKind
from applications.states import Status
from core.filetypes import DOCUMENT_TYPES, TABLE_TYPES
from core.models import Notification
from core.smtp import SmtpSink
from core.uploads import check_upload
from policy.actions import load_holiday_year
from review.models import Payment, ReviewStep
from testing.browser import force_login, login, screenshot
from testing.fixtures import make_enterprise, make_user, pdf_bytes


def consumption_csv(minutes: int, cost: Decimal, start: dt.datetime) -> bytes:
    """One row of a consumption detail for ``minutes`` on one card costing ``cost``."""
    price = (cost * 60 / minutes).quantize(Decimal("0.0001"))
    end = start + dt.timedelta(minutes=minutes)
    return (
        "记录编号,开始时间,结束时间,算力资源,数量（卡）,时长（分钟）,单价（元/卡·小时）,金额（元）,使用场景\n"
        f"R-1,{start:%Y-%m-%d %H:%M},{end:%Y-%m-%d %H:%M},H200,1,{minutes},{price},{cost},text2video\n"
    ).encode()


def ready_draft(applicant: User) -> Application:
    """A complete draft made through the intake's actions, ready to submit."""
    today = timezone.localdate()
    launch = today - dt.timedelta(days=3)
    draft = intake.create_draft(actor=applicant)
    draft = intake.update_draft(
        draft,
        {
            "work_title": "龙城夜雨",
            "filing_number": "京剧备字2026-0901",
            "work_minutes": 100,
            "platform_name": "红果短剧",
            "launch_date": launch,
            "launch_proof_number": "无",
            "overseas": False,
            "provider_name": "怀柔智算中心",
            "compute_minutes": 100,
            "total_compute_cost": Decimal("50000.00"),
        },
        actor=applicant,
    )
    start = timezone.make_aware(dt.datetime.combine(launch - dt.timedelta(days=20), dt.time(9, 0)))
    for kind in draft.required_material_kinds():
        if kind == MaterialKind.CONSUMPTION_DETAIL:
            content, name, allowed = consumption_csv(100, Decimal("50000.00"), start), "明细.csv", TABLE_TYPES
        else:
            content, name, allowed = pdf_bytes(), f"{kind}.pdf", DOCUMENT_TYPES
        intake.add_material(
            draft, kind, check_upload(SimpleUploadedFile(name, content), allowed), actor=applicant
        )
    return draft


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_whole_path_in_a_browser_with_mail_over_smtp(
    new_page: Any, smtp_server: SmtpSink, settings: Any
) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    enterprise = make_enterprise("北京影都智造文化传媒有限公司", handler_email="lisi@example.cn")
    alice = make_user(
        "alice", Role.APPLICANT, enterprise=enterprise, email="alice@example.cn", display_name="李四"
    )
    reviewer = make_user("reviewer", Role.REVIEWER, email="reviewer@yingdu.local", display_name="初审员 赵敏")
    head = make_user("head", Role.HEAD, email="head@yingdu.local", display_name="主管领导 孙伟")
    approver = make_user(
        "approver", Role.APPROVER, email="approver@yingdu.local", display_name="审批负责人 周婷"
    )
    finance = make_user("finance", Role.FINANCE, email="finance@yingdu.local", display_name="财务 吴刚")
    # Deadlines that reach into 2027 need that year's schedule, as an administrator would load it.
    load_holiday_year(
        {
            "year": 2027,
            "source": "测试用2027年节假日安排",
            "holidays": ["2027-01-01", "2027-02-08", "2027-02-09"],
        },
        actor=None,
    )
    draft = ready_draft(alice)
    detail = f"/review/{draft.pk}/"

    # The applicant submits (the intake's confirm step) and gets the receipt.
    applicant = new_page()
    login(applicant, alice)
    applicant.goto(f"/applications/{draft.pk}/edit/confirm/")
    if not applicant.is_checked("#id_declaration_accepted"):
        applicant.check("#id_declaration_accepted")
    applicant.fill("#id_signer_name", "张三")
    with applicant.expect_navigation():
        applicant.click("#submit-application")
    app = Application.objects.get(pk=draft.pk)
    assert app.status == Status.SUBMITTED, applicant.locator(".errorlist, .messages").all_inner_texts()
    smtp_server.wait_for(lambda m: "已提交" in m.subject and "alice@example.cn" in m.to)

    # 初审: the reviewer finds it in the queue, claims it and sends a one-shot supplement notice.
    staff = new_page()
    force_login(staff, reviewer)
    staff.goto("/review/")
    with staff.expect_navigation():
        staff.click(f"#queue a[href='{detail}']")
    with staff.expect_navigation():
        staff.click("#do-claim")
    staff.check("input[name=items][value='material:usage_log']")
    staff.fill("input[name='text:material:usage_log']", "日志缺少3月2日的记录")
    staff.check("input[name=items][value='row:platform_name']")
    staff.fill("input[name='text:row:platform_name']", "请确认上线平台名称")
    with staff.expect_navigation():
        staff.click("#send-supplement")
    # The first click previews the notice as the enterprise will read it; only confirming sends it.
    assert "日志缺少3月2日的记录" in staff.locator("#supplement-preview").inner_text()
    with staff.expect_navigation():
        staff.click("#confirm-button")
    assert staff.locator("#status").inner_text() == "待补充材料"
    notice_mail = smtp_server.wait_for(lambda m: "需补充材料" in m.subject)
    assert "日志缺少3月2日的记录" in notice_mail.body

    # The applicant reads the notice in the inbox, answers exactly those items and resubmits.
    applicant.goto("/review/inbox/")
    assert "需补充材料" in applicant.content()
    with applicant.expect_navigation():
        applicant.click(".inbox-list a >> nth=0")
    with applicant.expect_navigation():
        applicant.click("text=办理或查看详情")
    assert applicant.locator(".supplement-item").count() == 2
    applicant.set_input_files(
        "input[name=files_material__usage_log]",
        files=[{"name": "使用日志-补充.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes()}],
    )
    applicant.fill("textarea[name=answer_row__platform_name]", "上线平台为红果短剧，无误")
    with applicant.expect_navigation():
        applicant.click("#resubmit")
    assert "补正材料已提交" in applicant.content()
    smtp_server.wait_for(lambda m: "企业已补正" in m.subject and m.to == ["reviewer@yingdu.local"])

    # 初审 again, then 复审 and 审批 by two other people.
    for user, button, opinion in [
        (reviewer, "pass_initial", "补正后材料齐全，同意"),
        (head, "pass_re_review", "复核无误，同意"),
        (approver, "approve", "同意按核定金额补助"),
    ]:
        page = new_page()
        force_login(page, user)
        page.goto(detail)
        page.fill("#id_opinion", opinion)
        with page.expect_navigation():
            page.click(f"#do-{button}")
        assert "已办理" in page.content()
    approval_mail = smtp_server.wait_for(lambda m: "审批通过" in m.subject)
    assert "15,000.00" in approval_mail.subject

    # 兑现: finance records the payment of the granted amount.
    cashier = new_page()
    force_login(cashier, finance)
    cashier.goto(detail)
    assert cashier.input_value("#id_amount") == "15000.00"
    cashier.fill("#id_bank_reference", "BOC2026030200018")
    with cashier.expect_navigation():
        cashier.click("#record-payment")
    assert cashier.locator("#status").inner_text() == "已兑现"
    screenshot(cashier, "review/paid")
    smtp_server.wait_for(lambda m: "已兑现" in m.subject)

    app.refresh_from_db()
    assert app.status == Status.PAID
    assert app.granted_amount == Decimal("15000.00")
    assert Payment.objects.get(application=app).bank_reference == "BOC2026030200018"
    levels = {s.level: s.actor_id for s in ReviewStep.objects.filter(application=app, level__gt=0)}
    assert levels == {1: reviewer.pk, 2: head.pk, 3: approver.pk}
    assert list(Notification.objects.filter(user=alice).order_by("id").values_list("kind", flat=True)) == [
        "submission_receipt",
        "supplement_notice",
        "approval",
        "payment",
        "rating_request",
    ]
    applicant.goto("/review/inbox/")
    assert "已兑现" in applicant.content()
