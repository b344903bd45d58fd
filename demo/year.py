"""The living demo year of ``yingdu demo``: the last twelve months of operation, played again.

Relative to today, the demo builds the months since ``today − 365 days`` (or since the policy took
effect on 2026-02-05, when fewer) by running the platform's own actions — registration and
verification, signed usage through the API's ingestion, submissions, every review step, payments,
reminders, a quarterly spot check drawn from a real checkpoint, findings, a partial clawback and its
repayment, the enterprises' ratings of ended cases and the follow-up of a poor one — each under a
clock travelled to its day (``time_machine``), in date order. No row is written directly, and no
holiday schedule is guessed: a year without an official one runs on the provisional calendar (暂定).

Every date is a working day counted on the calendar from the first demo day, so the plan fits any
window; items still in progress start in the last weeks so that queues look like a real morning.

Idempotent: the year is played once; a second run finds its applications and only reports.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from decimal import Decimal
from functools import partial
from typing import Any

import time_machine
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.utils import timezone

from accounts.models import User
from agent.signing import public_key_b64, sign_record
from applications import actions as intake
from applications.models import Application, MaterialKind
from applications.states import Status
from audits import findings, fraud, spotchecks
from audits.models import Finding
from audits.quarters import Quarter
from core.filetypes import DOCUMENT_TYPES, TABLE_TYPES
from demo import usage as demo_usage
from demo.cast import (
    APPROVE,
    CLAIM,
    CLAWBACK,
    DECISION,
    ENTERPRISES,
    FINDING,
    NEEDS,
    NOTICE,
    OBJECTION,
    PASS_INITIAL,
    PASS_RE,
    PAY,
    PROVIDERS,
    REPAYMENT,
    STORIES,
    TITLES,
)
from demo.files import checked_upload, detail_file, pdf_file, png_file
from demo.game import CST, PREFIX, Demo, window
from demo.offers import plan_offers
from demo.ratings import plan_ratings
from demo.staff import DEMO_PASSWORD
from enterprises import actions as registry
from enterprises.models import Enterprise, Provider
from monitoring import actions as monitoring
from monitoring import ingest
from policy.calendar import get_calendar
from review import actions as review
from review import reminders as review_reminders
from review import resubmission

# --- the cast ------------------------------------------------------------------------------------


def _enterprise(demo: Demo, username: str, name: str, uscc: str) -> Enterprise:
    user = User.objects.filter(username=username).select_related("enterprise").first()
    if user is not None and user.enterprise is not None:
        demo.users[username] = user
        return user.enterprise
    data = {
        "name": name,
        "uscc": uscc,
        "registered_address": "北京市怀柔区杨宋镇凤翔科技开发区",
        "operating_address": "北京市怀柔区杨宋镇影都大道1号",
        "legal_rep_name": "张三",
        "legal_rep_phone": "+8613800138000",
        "handler_name": "李四",
        "handler_phone": "+8613900139000",
        "handler_email": f"{username}@example.cn",
    }
    licence = checked_upload("营业执照.pdf", pdf_file(name), DOCUMENT_TYPES)
    enterprise, user = registry.register_enterprise(data, licence, username=username, password=DEMO_PASSWORD)
    demo.users[username] = user
    return enterprise


def cast(demo: Demo, staff: dict[str, User]) -> None:
    """Enterprises registered (and verified by a reviewer) and providers with a node each, on day 0."""
    demo.users.update(staff)
    with _travel(demo.start, 0):
        for username, name, uscc, fate in ENTERPRISES:
            enterprise = _enterprise(demo, username, name, uscc)
            if fate != "pending" and enterprise.status == Enterprise.Status.PENDING:
                registry.verify_enterprise(
                    enterprise,
                    decision=Enterprise.Status.VERIFIED,
                    note="营业执照核验一致",
                    actor=staff["reviewer"],
                )
        for name, node_id in PROVIDERS:
            provider = Provider.objects.filter(name=name).first()
            if provider is None:
                provider, _token = monitoring.create_provider(name, actor=staff["sysadmin"])
            key = Ed25519PrivateKey.generate()
            node = provider.nodes.filter(node_id=node_id).first()
            if node is None:
                monitoring.register_node(provider, node_id, public_key_b64(key), actor=staff["sysadmin"])
                demo.keys[name] = (provider, node_id, key)


# --- the plan ------------------------------------------------------------------------------------


def _travel(day: dt.date, order: int) -> time_machine.travel:
    moment = dt.datetime.combine(day, dt.time(9, 0), tzinfo=CST) + dt.timedelta(minutes=order % 480)
    return time_machine.travel(moment, tick=False)


def _rows(index: int, user: User, launch: dt.date, overseas: bool, provider: str) -> dict[str, Any]:
    minutes = 40 + (index * 7) % 60
    cost = Decimal(20000 + (index * 3700) % 40000).quantize(Decimal("0.01"))
    rows: dict[str, Any] = {
        "work_title": TITLES[index],
        "filing_number": f"{PREFIX}京剧备-{index + 1:04d}",
        "work_minutes": minutes,
        "platform_name": "抖音" if index % 2 else "快手",
        "launch_date": launch,
        "launch_proof_number": "无",
        "overseas": overseas,
        "provider_name": provider,
        "compute_minutes": minutes,
        "total_compute_cost": cost,
        "declaration_accepted": True,
        "signer_name": user.enterprise.legal_rep_name if user.enterprise else "张三",
    }
    if overseas:
        rows |= {
            "overseas_region": "东南亚（泰国、越南）",
            "overseas_agreement_number": f"HW-DEMO-{index + 1:03d}",
            "overseas_platform": "ReelShort",
            "overseas_launch_date": launch,
        }
    return rows


def _draft(demo: Demo, index: int, username: str, overseas: bool, submit_day: dt.date) -> Application:
    user = demo.users[username]
    launch = submit_day - dt.timedelta(days=7)
    provider = PROVIDERS[index % len(PROVIDERS)][0]
    rows = _rows(index, user, launch, overseas, provider)
    app = intake.create_draft(actor=user)
    app = intake.update_draft(app, rows, actor=user)
    start = timezone.make_aware(dt.datetime.combine(launch - dt.timedelta(days=20), dt.time(9, 0)))
    for kind in app.required_material_kinds():
        if kind == MaterialKind.CONSUMPTION_DETAIL:
            content = demo_usage.detail(index, rows, start) or detail_file(rows["work_minutes"], rows["total_compute_cost"], start, rows["filing_number"])  # noqa: E501
            upload = checked_upload("算力消耗明细.csv", content, DOCUMENT_TYPES | TABLE_TYPES)
        elif kind == MaterialKind.LAUNCH_PROOF:
            upload = checked_upload("上线截图.png", png_file(), DOCUMENT_TYPES)
        else:
            label = str(MaterialKind(kind).label)
            upload = checked_upload(f"{label}.pdf", pdf_file(label), DOCUMENT_TYPES)
        intake.add_material(app, kind, upload, actor=user)
    _usage(demo, index, user, rows, start)
    demo.apps[index] = app
    return app


def _usage(demo: Demo, index: int, user: User, rows: dict[str, Any], start: dt.datetime) -> None:
    """The provider's signed usage of the work, through the API's ingestion path."""
    found = demo.keys.get(rows["provider_name"])
    if found is None or user.enterprise is None:
        return
    provider, node_id, key = found
    minutes = int(rows["compute_minutes"])
    records = []
    for part in range(2):
        begin = start + dt.timedelta(hours=3 * (part + 1))
        seconds = minutes * 30
        records.append(
            sign_record(
                {
                    "record_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"yingdu-demo/{index}/{part}")),
                    "node_id": node_id,
                    "enterprise_uscc": user.enterprise.uscc,
                    "work_ref": rows["filing_number"],
                    "job_id": f"demo-{index}",
                    "scenario": "text2video",
                    "gpu_model": "NVIDIA H200",
                    "gpu_uuid": f"GPU-demo-{index % 8}",
                    "gpu_count": 1,
                    "started_at": begin.isoformat(),
                    "ended_at": (begin + dt.timedelta(seconds=seconds)).isoformat(),
                    "gpu_seconds": seconds,
                    "avg_util_pct": 86.0,
                    "max_mem_mib": 80211,
                    "energy_wh": round(seconds / 3600 * 650.0, 3),
                    "cost_cny": str((rows["total_compute_cost"] / 2).quantize(Decimal("0.01"))),
                },
                key,
            )
        )
    ingest.record_usage_batch(provider, records, actor_repr=f"node:{node_id}")


def _app(demo: Demo, index: int) -> Application:
    return Application.objects.get(pk=demo.apps[index].pk)


def plan(demo: Demo, stories: Iterable[int] | None = None) -> None:
    """Schedule the stories (all, or the indexes of ``stories``) on working days of the window."""
    n = get_calendar().workdays_between(demo.start, demo.today)
    chosen = sorted(set(range(len(STORIES)) if stories is None else stories))
    finished = [i for i in chosen if STORIES[i][0] in NEEDS or STORIES[i][0].startswith("paid")]
    latest = max(n - 18, 2)
    for rank, index in enumerate(finished):
        goal = STORIES[index][0]
        need = NEEDS.get(goal, NEEDS["paid"]) + (4 if "supplement" in goal else 0)
        begin = 2 + (rank * max(n - need - 4, 0)) // max(len(finished) - 1, 1)
        _story(demo, index, min(begin, max(n - need, 1)))
    in_progress = [i for i in chosen if i not in finished]
    for rank, index in enumerate(in_progress):
        _story(demo, index, max(min(latest + rank // 2, n - 1 - _steps_after(STORIES[index][0])), 1))


def _steps_after(goal: str) -> int:
    return {"approved": APPROVE, "final_approval": PASS_RE, "re_review": PASS_INITIAL}.get(goal, 2)


def _story(demo: Demo, index: int, begin: int) -> None:
    goal, username, overseas = STORIES[index]
    reviewer = demo.users["reviewer" if index % 2 else "reviewer2"]
    head, approver, finance = demo.users["head"], demo.users["approver"], demo.users["finance"]
    applicant = demo.users[username]
    submit_day = demo.day(begin)

    def d(step: int) -> dt.date:
        return demo.day(begin + step)

    def act(step: int, fn: Callable[[Application], Any]) -> None:
        demo.at(d(step), lambda: fn(_app(demo, index)))

    demo.at(submit_day, lambda: _draft(demo, index, username, overseas, submit_day))
    if goal == "draft":
        return
    act(0, lambda a: intake.submit_application(a, actor=applicant))
    if goal == "submitted":
        return
    if goal == "withdrawn":
        act(
            2,
            lambda a: intake.withdraw_application(a, actor=applicant, reason="作品信息有误，撤回后重新整理"),
        )
        return
    act(CLAIM, lambda a: review.claim_application(a, actor=reviewer, opinion="已受理"))
    if goal == "initial_review":
        return
    if goal == "rejected_initial":
        act(
            3,
            lambda a: review.reject_application(
                a, actor=reviewer, opinion="算力消耗明细与发票不符，不符合申报条件"
            ),
        )
        if username == "haitang":  # the forged invoice gets the enterprise blacklisted
            demo.at(
                d(5),
                lambda: fraud.blacklist_enterprise(
                    Enterprise.objects.get(users=applicant),
                    reason="提供虚假算力发票，列入黑名单",
                    actor=demo.users["inspector"],
                ),
            )
        return
    if "supplement" in goal:
        items = [("material:consumption_detail", "算力消耗明细缺少使用场景说明，请补充")]
        act(
            2,
            lambda a: review.request_supplement(
                a, items=items, note="请一次性补齐后重新提交", actor=reviewer
            ),
        )
        if goal == "supplement_requested":
            return
        act(
            5,
            lambda a: resubmission.resubmit_application(
                a, answers=_answers(a), note="已补充使用场景说明", actor=applicant
            ),
        )
        shift = 4
    else:
        shift = 0
    # Dates named in an action are fixed when planned, as the event days are: a schedule loaded
    # part-way (the year-of-operation test) must not move a payment's date past its event day.
    onsite_day, pay_day = d(2), d(PAY + shift)
    if goal == "paid_onsite":
        act(
            2,
            lambda a: review.record_on_site_check(
                a,
                date=onsite_day,
                people="初审员 赵敏、钱磊",
                findings="现场查验渲染集群与合同一致",
                actor=reviewer,
            ),
        )
    act(
        PASS_INITIAL + shift,
        lambda a: review.pass_initial_review(a, actor=reviewer, opinion="材料齐全，符合申报条件"),
    )
    if goal == "re_review":
        return
    act(PASS_RE + shift, lambda a: review.pass_re_review(a, actor=head, opinion="复核无误，同意"))
    if goal == "final_approval":
        return
    if goal == "rejected_final":
        act(
            APPROVE,
            lambda a: review.reject_application(
                a, actor=approver, opinion="该作品已获其他财政补助，不予重复补助"
            ),
        )
        return
    act(
        APPROVE + shift, lambda a: review.approve_application(a, actor=approver, opinion="同意按核定金额补助")
    )
    if goal == "approved":
        return
    act(
        PAY + shift,
        lambda a: review.record_payment(
            a,
            date=pay_day,
            amount=a.granted_amount or Decimal("0"),
            bank_reference=f"DEMO-BANK-{index + 1:04d}",
            actor=finance,
        ),
    )
    demo.paid_on[index] = d(PAY + shift)
    if goal == "rejected_initial":
        return
    _findings(demo, index, goal, lambda step: d(PAY + shift + step))


def _findings(demo: Demo, index: int, goal: str, d: Callable[[int], dt.date]) -> None:
    """A finding in the stage the story names; the upheld one ends in a partial clawback and its repayment."""
    inspector, finance = demo.users["inspector"], demo.users["finance"]
    applicant = demo.users[STORIES[index][1]]
    stage = {
        "paid_finding_open": "open",
        "paid_finding_notified": "notified",
        "paid_finding_objected": "objected",
        "paid_finding_dismissed": "dismissed",
        "clawback": "upheld",
        "clawback_full": "upheld",
    }.get(goal)
    if stage is None:
        return
    found: dict[str, Any] = {}

    def record(app: Application) -> None:
        found["finding"] = findings.record_finding(
            app,
            actor=inspector,
            description="监测用量低于申报的算力消耗，需企业说明",
            source=Finding.Source.OTHER,
            amount_at_issue=(app.granted_amount or Decimal("0")) / 4,
        )

    demo.at(d(FINDING), lambda: record(_app(demo, index)))
    if stage == "open":
        return

    def notice() -> None:
        found["notice"] = findings.send_data_notice(
            found["finding"],
            actor=inspector,
            text="经核查，监测平台记录的算力用量低于申报数，请于期限内说明。",
        )

    demo.at(d(NOTICE), notice)
    if stage == "notified":
        return
    if stage in ("objected", "dismissed"):
        demo.at(
            d(OBJECTION),
            lambda: findings.file_objection(
                found["notice"], actor=applicant, statement="部分渲染任务在合作方节点完成，附合同说明。"
            ),
        )
    if stage == "objected":
        return
    upheld = stage == "upheld"
    reasons = "企业未能说明差异，认定属实" if upheld else "企业说明合理，核查发现不成立"
    full = goal == "clawback_full"

    def decide() -> None:
        finding = Finding.objects.get(pk=found["finding"].pk)
        part = None
        if upheld and not full:  # the part clawed back below is what the decision finds (部分认定)
            part = ((_app(demo, index).granted_amount or Decimal("0")) * Decimal("0.4")).quantize(
                Decimal("0.01")
            )
            if finding.amount_at_issue is not None and part >= finding.amount_at_issue:
                part = (finding.amount_at_issue / 2).quantize(Decimal("0.01"))
            if part <= 0:
                part = None
        findings.decide_finding(finding, actor=inspector, upheld=upheld, reasons=reasons, amount_found=part)

    demo.at(d(DECISION), decide)
    if not upheld:
        return

    def claw() -> None:
        app = _app(demo, index)
        granted = app.granted_amount or Decimal("0")
        found_part = Finding.objects.get(pk=found["finding"].pk).amount_found
        amount = granted if full else found_part or (granted * Decimal("0.4")).quantize(Decimal("0.01"))
        found["clawback"] = fraud.claw_back(
            app,
            amount,
            actor=inspector,
            reason="核查认定虚报，全额追回补贴" if full else "监测用量不足，按差额追回部分补贴",
            finding=Finding.objects.get(pk=found["finding"].pk),
        )

    demo.at(d(CLAWBACK), claw)
    if full:
        return
    repay_day = d(REPAYMENT)
    demo.at(
        repay_day,
        lambda: fraud.record_repayment(
            found["clawback"],
            amount=(found["clawback"].amount / 2).quantize(Decimal("0.01")),
            date=repay_day,
            reference=f"DEMO-REPAY-{index + 1:04d}",
            actor=finance,
        ),
    )


def spot_check(demo: Demo) -> None:
    """The latest quarter that ended with payments in it, drawn from the first checkpoint after it."""
    last = None
    quarter = Quarter.of(demo.start)
    while quarter.last_day < demo.today - dt.timedelta(days=10):
        if any(quarter.first_day <= day <= quarter.last_day for day in demo.paid_on.values()):
            last = quarter
        quarter = quarter.next()
    if last is None:
        demo.lines.append("演示：窗口内尚无结束且有兑现的季度，未做季度抽查。")
        return
    q = last
    after = get_calendar().add_workdays(q.last_day, 1)
    inspector = demo.users["inspector"]

    def heartbeat() -> None:
        # A provider's next upload after the quarter ends signs the checkpoint the draw uses.
        provider, node_id, key = next(iter(demo.keys.values()))
        user = demo.users["yingzhi"]
        rows = {
            "compute_minutes": 30,
            "filing_number": f"{PREFIX}心跳",
            "total_compute_cost": Decimal("100.00"),
        }
        start = timezone.make_aware(dt.datetime.combine(q.last_day, dt.time(20, 0)))
        _usage(demo, 900, user, {**rows, "provider_name": provider.name}, start)

    def draw() -> None:
        spot = spotchecks.open_spot_check(str(q), actor=inspector)
        for app_id in spot.sample_ids:
            app = Application.objects.get(pk=app_id)
            if not Finding.objects.filter(application=app).exists():
                findings.record_finding(
                    app,
                    actor=inspector,
                    description="季度抽查：上线截图与平台后台记录的上线时间需进一步核对",
                    source=Finding.Source.SPOT_CHECK,
                    spot_check=spot,
                )
                break

    demo.at(after, heartbeat)
    demo.at(get_calendar().add_workdays(after, 1), draw)


def _answers(app: Application) -> dict[str, str]:
    from review.models import notices_of

    notice = notices_of(app.pk).order_by("-round").first()
    if notice is None:
        return {}
    return {item.item_code: "已补充使用场景说明，见补充说明" for item in notice.items.all()}


def reminders(demo: Demo) -> None:
    """The daily reminder job, on the last working days."""
    n = get_calendar().workdays_between(demo.start, demo.today)
    for back in (4, 2, 0):
        day = demo.day(n - back)
        demo.at(day, partial(review_reminders.send_deadline_reminders, day))


def play(demo: Demo, until: dt.date | None = None) -> None:
    """Play the planned events in date order (those up to ``until`` only, when given)."""
    due = sorted((e for e in demo.events if until is None or e[0] <= until), key=lambda e: (e[0], e[1]))
    for day, order, action in due:
        with _travel(day, order):
            action()
    demo.events = [e for e in demo.events if until is not None and e[0] > until]


STAFF_NAMES = ("reviewer", "reviewer2", "head", "approver", "finance", "inspector", "sysadmin")


def load(stdout: Any, *, today: dt.date | None = None) -> None:
    """Build the demo year once (see the module docstring) and report what is there."""
    if Application.objects.filter(filing_number__startswith=PREFIX).exists():
        stdout.write("演示：运营数据已存在，未重复载入。")
        _report(stdout)
        return
    today = today or timezone.localdate()
    demo = Demo(start=window(today), today=today)
    staff = {u.username: u for u in User.objects.filter(username__in=STAFF_NAMES)}
    cast(demo, staff)
    plan(demo)
    spot_check(demo)
    reminders(demo)
    plan_ratings(demo)
    plan_offers(demo)
    play(demo)
    # The personas are handed out today with the published demo password: a password set when the
    # played year began would be past its maximum age, and each would see only the password page.
    User.objects.filter(username__in=[row[0] for row in ENTERPRISES]).update(
        password_changed_at=timezone.now()
    )
    for line in demo.lines:
        stdout.write(line)
    stdout.write(f"演示：已按 {demo.start.isoformat()} 至 {demo.today.isoformat()} 的运营过程生成演示数据。")
    _report(stdout)


def _report(stdout: Any) -> None:
    counts: dict[str, int] = {}
    for status in Application.objects.filter(filing_number__startswith=PREFIX).values_list(
        "status", flat=True
    ):
        counts[status] = counts.get(status, 0) + 1
    parts = [
        f"{Status(code).label} {n}"
        for code, n in sorted(counts.items(), key=lambda kv: list(Status).index(Status(kv[0])))
    ]
    stdout.write("演示申请：" + "，".join(parts) + "。")
