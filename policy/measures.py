"""The clauses of the measures (《智能影像算力补助实施办法》) that the platform's documents apply.

One home for the words of the measures the notices and decisions cite: each document names the
clauses it applies by their number as the measures print them (``四（四）1``), and quotes them.
The measures' title and the issuing authority are settings (``MEASURES_TITLE``,
``AUTHORITY_NAME``); docs/notices.md says which document applies which clause.
"""

from __future__ import annotations

from django.conf import settings

# The clauses by what they rule, so the documents name them without spelling numbers.
AMOUNT = "三（一）"
ANNUAL_CAP = "三（三）"
CONDITIONS = "四（一）"
MATERIALS = "四（二）"
REVIEW_ONE_SHOT_NOTICE = "四（四）1"
CYCLE_WITHOUT_SUPPLEMENT_TIME = "四（四）3"
SPOT_CHECKS = "五 2"
OBJECTION = "五 3"
RECOVERY = "五 4"

CLAUSES: dict[str, str] = {
    "三（一）": "企业利用AI技术开展短剧制作过程中产生的算力消耗，按实际制作时长对应的总算力成本的30%提供算力补助",
    "三（三）": "单个企业年度累计申请算力补助不超过10万元。",
    "四（一）": "申报条件：采用AI技术制作的短剧，在国内外短剧APP平台上线播出；能提供完整、真实的算力消耗凭证、作品播出证明等申报材料；出海发行作品需额外提供合规的出海发行证明材料。",
    "四（二）": "补贴申请材料清单。",
    "四（四）1": "区文促中心在收到申报材料后10个工作日内完成审核，对材料不齐或不符合要求的，一次性告知企业补充完善，必要时可进行实地核查。",
    "四（四）3": "整个兑现周期不超过30个工作日（企业补充材料的时间不计入兑现周期）。",
    "五 2": "区文促中心每季度对企业算力使用情况进行随机抽查，核对算力消耗凭证与监控数据、明细报表的一致性，排查违规使用行为。",
    "五 3": "企业需配合监控工作，不得擅自篡改算力使用数据、伪造使用记录；若对监控数据有异议，可在收到数据通知后5个工作日内向区文促中心提交书面说明及佐证材料。",
    "五 4": "经监控及核查若发现企业存在弄虚作假行为，区文促中心有权收回已发放的算力补贴，并有权取消其享有算力补贴的资格，列入黑名单。",
}


def cite(*numbers: str) -> str:
    """``《智能影像算力补助实施办法》四（四）1、四（四）3`` for the clauses named."""
    for number in numbers:
        if number not in CLAUSES:
            raise KeyError(f"no clause {number!r} in the measures")
    return f"{settings.MEASURES_TITLE}" + "、".join(numbers)


def quote(*numbers: str) -> str:
    """The citation followed by the words of each clause."""
    return cite(*numbers) + "：" + "".join(f"“{CLAUSES[number]}”" for number in numbers)
