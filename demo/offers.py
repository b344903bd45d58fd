"""The demo's 达标即享 (docs/offers.md, docs/payments.md): works registered in production with signed usage
against their reference, launched works with offers pending, offers accepted and confirmed into
applications in review, and finance's payment instruction for approved applications.

Played by :func:`demo.year.load` with the other events, through the platform's own actions.
"""

from __future__ import annotations

import datetime as dt
import uuid
from functools import partial

from django.utils import timezone

from agent.signing import sign_record
from applications.models import Application, Offer, Work
from applications.states import Status
from applications.works import register_work, verify_filing
from core.filetypes import DOCUMENT_TYPES
from core.uploads import CheckedUpload
from demo.files import checked_upload, png_file
from demo.game import Demo
from monitoring import ingest
from policy.calendar import get_calendar
from review import offers
from review import payment_batches as batches
from review.models import PayeeAccount

CST = dt.timezone(dt.timedelta(hours=8))
# (enterprise username, title, provider, GPU hours, cost per hour, what has happened by today)
WORKS: list[tuple[str, str, str, int, str, str]] = [
    ("yingzhi", "星河彼岸", "怀柔智算中心", 6, "120.00", "production"),
    ("yanqi", "雁栖湖畔的夏天", "影都云算力平台", 3, "150.00", "production"),
    ("xinghe", "长城脚下", "怀柔智算中心", 8, "110.00", "offer"),
    ("hongluo", "红螺晨钟", "京北超算服务中心", 5, "130.00", "offer"),
    ("changcheng", "关山月", "影都云算力平台", 10, "125.00", "accepted"),
    ("jingxi", "京西灯火", "怀柔智算中心", 7, "140.00", "accepted"),
]
BANKS = {
    "yingzhi": ("110060149018000100001", "交通银行北京怀柔支行", "301100000140"),
    "xinghe": ("0200004509200123456", "中国工商银行北京怀柔支行", "102100000458"),
    "yanqi": ("11050162360000000123", "中国建设银行北京怀柔支行", "105100000117"),
    "hongluo": ("0109014170000123", "北京银行怀柔支行", "313100000013"),
    "changcheng": ("11250101040012345", "中国农业银行北京怀柔支行", "103100000026"),
    "jingxi": ("350100100123456789", "中国民生银行北京怀柔支行", "305100000013"),
}


def _screenshot() -> CheckedUpload:
    return checked_upload("上线截图.png", png_file(), DOCUMENT_TYPES)


def _register(demo: Demo, index: int) -> None:
    username, title, provider_name, hours, cost, _stage = WORKS[index]
    user = demo.users.get(username)
    if user is None or user.enterprise is None or Work.objects.filter(title=title).exists():
        return
    register_work(
        actor=user, title=title, expected_filing_number=f"DEMO-ZP{index:03d}", planned_platforms="红果短剧"
    )


def _produce(demo: Demo, index: int) -> None:
    """The provider's agent reports the work's signed GPU time against its reference."""
    username, title, provider_name, hours, cost, _stage = WORKS[index]
    user = demo.users.get(username)
    work = Work.objects.filter(title=title).first()
    if user is None or user.enterprise is None or work is None:
        return
    found = demo.keys.get(provider_name)
    if found is None:
        return
    provider, node_id, key = found
    start = dt.datetime.combine(timezone.localdate() - dt.timedelta(days=12), dt.time(9), tzinfo=CST)
    records = []
    for hour in range(hours):
        begin = start + dt.timedelta(days=hour % 5, hours=hour)
        records.append(
            sign_record(
                {
                    "record_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"yingdu-demo-offer/{index}/{hour}")),
                    "node_id": node_id,
                    "enterprise_uscc": user.enterprise.uscc,
                    "work_ref": work.reference,
                    "job_id": f"demo-work-{index}",
                    "scenario": "text2video",
                    "gpu_model": "NVIDIA H200",
                    "gpu_uuid": f"GPU-offer-{index}",
                    "gpu_count": 1,
                    "started_at": begin.isoformat(),
                    "ended_at": (begin + dt.timedelta(hours=1)).isoformat(),
                    "gpu_seconds": 3600,
                    "avg_util_pct": 84.0,
                    "max_mem_mib": 78000,
                    "energy_wh": 650.0,
                    "cost_cny": cost,
                },
                key,
            )
        )
    ingest.record_usage_batch(provider, records, actor_repr=f"node:{node_id}")


def _launch(demo: Demo, index: int, launch: dt.date) -> None:
    username, title, _provider, hours, _cost, _stage = WORKS[index]
    work = Work.objects.filter(title=title, launch_date__isnull=True).first()
    if work is None:
        return
    offers.record_launch(
        work,
        actor=demo.users[username],
        launch_date=launch,
        platforms="红果短剧",
        play_url=f"https://example.cn/play/demo-{index}",
        filing_number=f"DEMO-ZP{index:03d}",
        work_minutes=hours * 4,
        screenshot=_screenshot(),
    )
    verify_filing(Work.objects.get(pk=work.pk), actor=demo.users["reviewer"])


def _accept(demo: Demo, index: int) -> None:
    username, title, *_rest = WORKS[index]
    offer = Offer.objects.filter(work__title=title, status=Offer.Status.PENDING).first()
    if offer is None:
        return
    application = offers.accept_offer(offer, actor=demo.users[username])
    offers.confirm_offer(application, actor=demo.users[username])


def _accounts(demo: Demo) -> None:
    """Every verified demo enterprise states its 对公账户; the reviewer verifies them."""
    for username, (number, bank, code) in BANKS.items():
        user = demo.users.get(username)
        if (
            user is None
            or user.enterprise is None
            or PayeeAccount.objects.filter(enterprise=user.enterprise).exists()
        ):
            continue
        account = batches.submit_payee_account(
            user.enterprise, actor=user, account_name=user.enterprise.name, account_number=number,
            bank_name=bank, bank_code=code,
        )  # fmt: skip
        batches.verify_payee_account(
            account, actor=demo.users["reviewer"], approve=True, note="开户许可证核验一致"
        )


def _batch(demo: Demo) -> None:
    """Finance batches up to three approved applications that can be paid into one instruction."""
    ready = [
        app
        for app in Application.objects.filter(status=Status.APPROVED).order_by("pk")
        if not batches.payee_refusal(app)
    ]
    if ready:
        batches.create_instruction(
            ready[:3], actor=demo.users["finance"], budget_line="2026年文化产业发展专项资金"
        )


def plan_offers(demo: Demo) -> None:
    """Works registered early, launched near today; two offers accepted, two pending; a payment batch today."""
    n = get_calendar().workdays_between(demo.start, demo.today)
    for index, (_u, _t, _p, _h, _c, stage) in enumerate(WORKS):
        demo.at(demo.day(n - 30), partial(_register, demo, index))
        demo.at(demo.day(n - 12), partial(_produce, demo, index))
        if stage == "offer":
            launch = demo.day(n - 3)
            demo.at(launch, partial(_launch, demo, index, launch))
        elif stage == "accepted":
            launch = demo.day(n - 8)
            demo.at(launch, partial(_launch, demo, index, launch))
            demo.at(demo.day(n - 6), partial(_accept, demo, index))
    demo.at(demo.day(n - 2), partial(_accounts, demo))
    demo.at(demo.today, partial(_batch, demo))
