"""The demo's 好差评 (docs/ratings.md): a few enterprises rate their ended cases near the end of the
demo year, one poor rating is answered by the approver and one stays open on the follow-up list.

Played by :func:`demo.year.load` with the other events, through the platform's own actions; a
story that has not ended by the rating day (a short window) is simply not rated.
"""

from __future__ import annotations

from functools import partial

from applications.models import Application
from demo.cast import STORIES
from demo.game import Demo
from policy.calendar import get_calendar
from review import ratings as review_ratings
from review.models import RatingFollowUp

# (story index, overall level, the other dimensions, comment, answer of the follow-up or "")
RATINGS: list[tuple[int, int, int, str, str]] = [
    (0, 5, 5, "线上申报方便，审核及时", ""),
    (2, 4, 4, "", ""),
    (10, 3, 4, "撤回后重新申报的说明不够清楚", ""),
    (
        14,
        2,
        3,
        "审批不通过的理由希望说明得更具体",
        "已电话回访企业，说明重复补助的认定依据；今后不予补助的意见将写明所依据的条款。",
    ),
    (5, 1, 2, "补充材料要求前后不一致，耽误了时间", ""),
]


def _rate(demo: Demo, index: int, overall: int, rest: int, comment: str) -> None:

    if index not in demo.apps:
        return
    app = Application.objects.get(pk=demo.apps[index].pk)
    if not review_ratings.rateable(app) or review_ratings.rating_of(app) is not None:
        return
    levels = {"guidance": rest, "convenience": rest, "efficiency": rest, "attitude": rest, "overall": overall}
    review_ratings.rate_application(app, levels=levels, comment=comment, actor=demo.users[STORIES[index][1]])


def _answer(demo: Demo, index: int, response: str) -> None:
    if index not in demo.apps:
        return
    follow_up = RatingFollowUp.objects.filter(
        rating__application_id=demo.apps[index].pk, status=RatingFollowUp.Status.OPEN
    ).first()
    if follow_up is not None:
        review_ratings.close_follow_up(follow_up, response=response, actor=demo.users["approver"])


def plan_ratings(demo: Demo) -> None:
    """Schedule the ratings eight working days before today and the answer three days later."""
    n = get_calendar().workdays_between(demo.start, demo.today)
    rate_day, answer_day = demo.day(n - 8), demo.day(n - 5)
    for index, overall, rest, comment, answer in RATINGS:
        # The applications are created when their stories are played, so they are looked up then.
        demo.at(rate_day, partial(_rate, demo, index, overall, rest, comment))
        if answer:
            demo.at(answer_day, partial(_answer, demo, index, answer))
