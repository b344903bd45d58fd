"""Demo review data for ``yingdu demo`` (after ``applications.demo``): moves the submitted demo
applications through the review levels so that every queue has something to show.

Idempotent: only applications still in 已提交 with no review step are moved.
"""

from __future__ import annotations

from typing import Any

from accounts.models import User
from applications.models import Application
from applications.states import Status
from review import actions
from review.actions import ReviewError
from review.models import ReviewStep

# filing number → how far it goes
PLAN = {
    "DEMO-京剧备-0001": "approved",  # 龙城夜雨: approved, waiting for finance (待兑现)
    "DEMO-京剧备-0101": "supplement",  # 海上明月: the applicant has a supplement notice to answer
}


def _staff(username: str) -> User | None:
    return User.objects.filter(username=username).first()


def load(stdout: Any) -> None:
    reviewer, head, approver = _staff("reviewer"), _staff("head"), _staff("approver")
    if reviewer is None or head is None or approver is None:
        return
    moved = 0
    for filing_number, goal in PLAN.items():
        app = Application.objects.filter(filing_number=filing_number, status=Status.SUBMITTED).first()
        if app is None or ReviewStep.objects.filter(application=app).exists():
            continue
        try:
            actions.claim_application(app, actor=reviewer, opinion="已受理")
            if goal == "supplement":
                actions.request_supplement(
                    app,
                    items=[
                        ("material:overseas_proof", "出海发行证明未体现海外上线时间，请补充平台后台截图"),
                        ("row:overseas_agreement_number", "协议编号与出海发行证明不一致，请核对"),
                    ],
                    note="请一次性补齐以上材料后重新提交",
                    actor=reviewer,
                )
            else:
                actions.pass_initial_review(app, actor=reviewer, opinion="材料齐全，符合申报条件")
                actions.pass_re_review(app, actor=head, opinion="复核无误，同意")
                actions.approve_application(app, actor=approver, opinion="同意按核定金额补助")
        except ReviewError as exc:
            stdout.write(f"  演示申请 {app.reference} 未能推进：{exc.message}")
            continue
        moved += 1
    stdout.write(f"审核：推进演示申请 {moved} 件。")
