"""The demo's cast and plan as data: enterprises, providers, the story of each application and the
working days between its steps."""

from __future__ import annotations

# username, name, USCC, fate ("verified", "pending", "blacklisted")
ENTERPRISES = [
    ("yingzhi", "北京影都智造文化传媒有限公司", "91110116MA01ABCD11", "verified"),
    ("xinghe", "怀柔星河短剧科技有限公司", "91110105MA7ABCDE1B", "verified"),
    ("chuying", "北京初映数字影像有限公司", "91110116755623456M", "pending"),
    ("yanqi", "怀柔雁栖湖影视制作有限公司", "911101100000000117", "verified"),
    ("hongluo", "北京红螺寺数字文化有限公司", "91110110000000022B", "verified"),
    ("changcheng", "北京长城短剧工作室有限公司", "91110110000000033F", "verified"),
    ("jingxi", "北京京西智能影像科技有限公司", "91110110000000044K", "verified"),
    ("haitang", "北京海棠映画传媒有限公司", "91110110000000055P", "blacklisted"),
]
PROVIDERS = [
    ("怀柔智算中心", "hr-gpu-01"),
    ("影都云算力平台", "yd-gpu-01"),
    ("京北超算服务中心", "jb-gpu-01"),
]

# Each story: (goal, enterprise username, overseas). The order spreads finished stories over the
# window and puts the ones in progress at its end.
STORIES: list[tuple[str, str, bool]] = [
    ("paid", "yingzhi", False),
    ("paid_onsite", "xinghe", True),
    ("paid", "yanqi", False),
    ("clawback", "hongluo", False),
    ("clawback_full", "changcheng", False),
    ("paid_finding_dismissed", "jingxi", False),
    ("rejected_initial", "haitang", False),
    ("paid", "yingzhi", True),
    ("paid_finding_objected", "xinghe", False),
    ("paid", "yanqi", True),
    ("withdrawn", "hongluo", False),
    ("paid_supplement", "changcheng", False),
    ("paid_finding_notified", "jingxi", False),
    ("paid", "yingzhi", False),
    ("rejected_final", "xinghe", False),
    ("paid_finding_open", "yanqi", False),
    ("paid", "hongluo", False),
    ("paid", "changcheng", True),
    ("approved", "jingxi", False),
    ("approved", "yingzhi", False),
    ("final_approval", "xinghe", False),
    ("final_approval", "yanqi", False),
    ("re_review", "hongluo", False),
    ("re_review", "changcheng", False),
    ("supplement_requested", "jingxi", True),
    ("initial_review", "yingzhi", False),
    ("initial_review", "xinghe", False),
    ("submitted", "yanqi", False),
    ("draft", "hongluo", False),
    ("draft", "changcheng", False),
]
TITLES = [
    "龙城夜雨",
    "海上明月",
    "山河故人",
    "星火燎原",
    "长安来信",
    "雁栖湖畔",
    "红螺晨钟",
    "京西旧事",
    "长城谣",
    "海棠依旧",
    "云端之上",
    "北城少年",
    "怀柔往事",
    "一念之间",
    "影都故事",
    "月下归人",
    "逐光者",
    "春风十里",
    "重逢",
    "山海之约",
    "夜航船",
    "烟火人间",
    "追梦人",
    "时光信笺",
    "风起青萍",
    "归途",
    "雪落无声",
    "破晓",
    "千里江山",
    "灯火阑珊",
]
# Working days from submission to each step (a plan, not a rule: the rules are the actions').
CLAIM, PASS_INITIAL, PASS_RE, APPROVE, PAY = 1, 3, 5, 7, 14
# A story needs this many working days before today (paid ones and their findings the most).
NEEDS = {
    "paid": 16,
    "paid_onsite": 16,
    "paid_supplement": 20,
    "paid_finding_open": 18,
    "paid_finding_notified": 19,
    "paid_finding_objected": 21,
    "paid_finding_dismissed": 26,
    "clawback": 32,
    "clawback_full": 30,
    "withdrawn": 3,
    "rejected_initial": 7,
    "rejected_final": 9,
}
# After payment: record the finding, send the data notice, the enterprise objects, then the
# inspector decides once the objection period (5 working days) is over.
FINDING, NOTICE, OBJECTION, DECISION, CLAWBACK, REPAYMENT = 2, 3, 4, 10, 11, 13
