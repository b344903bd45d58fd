"""好差评 (docs/ratings.md): the enterprise rates an ended case once; a poor rating opens a follow-up
(整改/回访) that the approver (审批负责人) answers in writing by a deadline of working days.

- :func:`ask_for_rating` receives ``application.ended`` (paid, rejected, withdrawn after submission)
  and sends the enterprise one inbox notice with the link to the rating page.
- :func:`rate_application` and :func:`close_follow_up` are the two actions: one transaction each,
  an audit event in the log, notices after commit.
- :func:`follow_up_due` is the follow-up's deadline, settled by :func:`policy.calendar.settle`
  (暂定 while a year's holiday schedule is provisional).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import Role
from applications.models import Application
from applications.states import RATEABLE, Status
from core.models import Notification
from core.transactions import durable
from ledger.actions import record_event
from policy.calendar import CENTER, CalendarState, Deadline, rating_follow_up_due
from policy.deadlines import Move
from policy.loader import params_at
from review.models import DIMENSIONS, POOR, Rating, RatingFollowUp, Satisfaction
from review.notify import deliver, enterprise_users
from review.transitions import ReviewError

COMMENT_MAX = 500
RESPONSE_MAX = 2000
# Who answers a poor rating: the role that signs the third review level (最终审批).
FOLLOW_UP_ROLE = Role.APPROVER


def rateable(application: Application) -> bool:
    """A case that reached the center and ended: paid (or clawed back since), rejected, or withdrawn
    after submission. A draft withdrawn before submission was never a case."""
    return Status(application.status) in RATEABLE and application.submitted_at is not None


def may_rate(user: User, application: Application) -> bool:
    """Only the users of the enterprise that applied rate its case."""
    return user.has_role(Role.APPLICANT) and user.enterprise_id == application.enterprise_id


def rating_of(application: Application) -> Rating | None:
    return Rating.objects.filter(application=application).select_related("follow_up").first()


def follow_up_due(follow_up: RatingFollowUp, *, state: CalendarState | None = None) -> Deadline:
    """The day the written answer to a poor rating is due (a center deadline: the earlier date
    after a provisional year becomes official). Lists pass one ``state`` for all their rows."""
    return rating_follow_up_due(follow_up.opened_on, params_at(follow_up.opened_on), state=state)


def is_overdue(follow_up: RatingFollowUp, today: dt.date, *, state: CalendarState | None = None) -> bool:
    """Open past its deadline, or answered after it."""
    due = follow_up_due(follow_up, state=state).date
    if follow_up.status == RatingFollowUp.Status.CLOSED and follow_up.closed_at is not None:
        return timezone.localdate(follow_up.closed_at) > due
    return today > due


def _url(path: str) -> str:
    return str(settings.SITE_URL).rstrip("/") + path


# --- the request -----------------------------------------------------------------------------------


def ask_for_rating(*, application_id: int, actor: User | None = None) -> None:
    """Receiver of ``application.ended``: invite the enterprise, once, to rate the case."""
    application = Application.objects.select_related("enterprise").get(pk=application_id)
    if not rateable(application) or Rating.objects.filter(application=application).exists():
        return
    if Notification.objects.filter(application=application, kind=Notification.Kind.RATING_REQUEST).exists():
        return
    link = reverse("review:rate", args=[application.pk])
    title = _("申请 %(reference)s 已办结，请对本次服务作出评价") % {
        "reference": application.reference or application.pk
    }
    body = render_to_string(
        "review/email/rating_request.txt", {"application": application, "url": _url(link)}
    ).strip()
    deliver(
        enterprise_users(application.enterprise_id),
        kind=Notification.Kind.RATING_REQUEST,
        title=title,
        body=body,
        link=link,
        application=application,
    )


# --- rating ----------------------------------------------------------------------------------------


def _levels(levels: Mapping[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for name, label in DIMENSIONS.items():
        raw = levels.get(name)
        try:
            value = int(raw) if raw not in (None, "") else None
        except (TypeError, ValueError):
            value = None
        if value not in Satisfaction.values:
            raise ReviewError(
                _("请为“%(dimension)s”选择评价等级") % {"dimension": label}, status=400, code="invalid"
            )
        out[name] = int(value)
    return out


def rate_application(
    application: Application,
    *,
    levels: Mapping[str, Any],
    comment: str = "",
    actor: User,
    request: HttpRequest | None = None,
) -> Rating:
    """The enterprise's one rating of an ended case (国办发〔2019〕51号: 一事一评).

    Refused (``ReviewError``) for anyone but the enterprise's users (403), for a case that has not
    ended (409), for a second rating (409; the database's unique key holds under concurrency too)
    and for a level missing or a comment too long (400). A poor overall level (不满意, 非常不满意)
    opens the follow-up in the same transaction; the approvers are told after commit.
    """
    if not may_rate(actor, application):
        raise ReviewError(_("只有申报企业的用户可以评价本申请"), status=403, code="forbidden")
    values = _levels(levels)
    text = (comment or "").strip()
    if len(text) > COMMENT_MAX:
        raise ReviewError(
            _("评价意见不超过 %(n)d 字（现为 %(len)d 字）") % {"n": COMMENT_MAX, "len": len(text)},
            status=400,
            code="invalid",
        )
    try:
        with durable():
            locked = Application.objects.select_for_update().get(pk=application.pk)
            if not rateable(locked):
                raise ReviewError(
                    _("申请当前状态为“%(status)s”，办结后才能评价") % {"status": Status(locked.status).label}
                )
            if Rating.objects.filter(application=locked).exists():
                raise ReviewError(already_rated_message())
            now = timezone.now()
            rating = Rating.objects.create(
                application=locked, comment=text, rated_by=actor, rated_at=now, **values
            )
            follow_up = None
            if rating.overall in POOR:
                follow_up = RatingFollowUp.objects.create(rating=rating, opened_on=timezone.localdate(now))
            record_event(
                "application.rate",
                actor=actor,
                obj=locked,
                after={
                    **values,
                    "comment": text,
                    "rating_id": rating.pk,
                    "follow_up_id": follow_up.pk if follow_up else None,
                    "follow_up_due": follow_up_due(follow_up).date.isoformat() if follow_up else None,
                },
                request=request,
                enterprise_id=locked.enterprise_id,
            )
            if follow_up is not None:
                follow_up_id = follow_up.pk
                transaction.on_commit(lambda: notify_follow_up(follow_up_id), robust=True)
    except IntegrityError as exc:  # a second rating that raced the first past the check above
        raise ReviewError(already_rated_message()) from exc
    return rating


def already_rated_message() -> str:
    return _("本申请已评价，每件办结事项只能评价一次")


def notify_follow_up(follow_up_id: int) -> None:
    """Tell every approver that a poor rating waits for their follow-up, with its deadline."""
    follow_up = RatingFollowUp.objects.select_related("rating__application").get(pk=follow_up_id)
    application = follow_up.rating.application
    due = follow_up_due(follow_up)
    link = reverse("review:follow_up", args=[follow_up.pk])
    title = _("申请 %(reference)s 收到“%(level)s”评价，请于 %(due)s%(provisional)s 前整改回访") % {
        "reference": application.reference or application.pk,
        "level": follow_up.rating.get_overall_display(),
        "due": due.date.strftime("%Y-%m-%d"),
        "provisional": _("（暂定）") if due.provisional else "",
    }
    body = render_to_string(
        "review/email/rating_follow_up.txt",
        {"application": application, "rating": follow_up.rating, "due": due, "url": _url(link)},
    ).strip()
    deliver(
        _follow_up_users(),
        kind=Notification.Kind.RATING_FOLLOW_UP,
        title=title,
        body=body,
        link=link,
        application=application,
    )


def _follow_up_users() -> Iterable[User]:
    return User.objects.filter(groups__name=FOLLOW_UP_ROLE, is_active=True).distinct().order_by("id")


# --- follow-up -------------------------------------------------------------------------------------


def close_follow_up(
    follow_up: RatingFollowUp, *, response: str, actor: User, request: HttpRequest | None = None
) -> RatingFollowUp:
    """The approver closes a follow-up with a written answer to the enterprise (整改回访); the
    enterprise is told after commit and reads the answer on its application page."""
    if not actor.has_role(FOLLOW_UP_ROLE):
        raise ReviewError(
            _("只有“%(role)s”可以答复差评回访") % {"role": Role(FOLLOW_UP_ROLE).label},
            status=403,
            code="forbidden",
        )
    text = (response or "").strip()
    if not text:
        raise ReviewError(_("请填写回访答复"), status=400, code="invalid")
    if len(text) > RESPONSE_MAX:
        raise ReviewError(_("回访答复不超过 %(n)d 字") % {"n": RESPONSE_MAX}, status=400, code="invalid")
    with durable():
        locked = (
            RatingFollowUp.objects.select_for_update(of=("self",))
            .select_related("rating__application")
            .get(pk=follow_up.pk)
        )
        if locked.status != RatingFollowUp.Status.OPEN:
            raise ReviewError(_("该差评回访已答复，不能重复办理"))
        now = timezone.now()
        locked.status = RatingFollowUp.Status.CLOSED
        locked.response = text
        locked.closed_by = actor
        locked.closed_at = now
        locked.save(update_fields=["status", "response", "closed_by", "closed_at"])
        due = follow_up_due(locked)
        application = locked.rating.application
        record_event(
            "application.rating_follow_up_close",
            actor=actor,
            obj=application,
            before={"status": RatingFollowUp.Status.OPEN.value},
            after={
                "status": locked.status,
                "follow_up_id": locked.pk,
                "response": text,
                "due": due.date.isoformat(),
                "late": timezone.localdate(now) > due.date,
            },
            request=request,
            enterprise_id=application.enterprise_id,
        )
        follow_up_id = locked.pk
        transaction.on_commit(lambda: notify_reply(follow_up_id), robust=True)
    for field in ("status", "response", "closed_by_id", "closed_at"):
        setattr(follow_up, field, getattr(locked, field))
    return follow_up


def notify_reply(follow_up_id: int) -> None:
    """The enterprise reads the center's answer to its rating."""
    follow_up = RatingFollowUp.objects.select_related("rating__application").get(pk=follow_up_id)
    application = follow_up.rating.application
    link = reverse("applications:detail", args=[application.pk])
    title = _("区文促中心已答复您对申请 %(reference)s 的评价") % {
        "reference": application.reference or application.pk
    }
    body = render_to_string(
        "review/email/follow_up_reply.txt",
        {"application": application, "follow_up": follow_up, "url": _url(link)},
    ).strip()
    deliver(
        enterprise_users(application.enterprise_id),
        kind=Notification.Kind.FOLLOW_UP_REPLY,
        title=title,
        body=body,
        link=link,
        application=application,
    )


def rating_panel(*, application: Application, user: User) -> dict[str, Any] | None:
    """The application page's 好差评 card: the prompt to rate, or the rating and the center's answer."""
    if not rateable(application):
        return None
    rating = rating_of(application)
    if rating is None and not may_rate(user, application):
        return None
    follow_up = getattr(rating, "follow_up", None) if rating is not None else None
    return {
        "template": "review/_rating_panel.html",
        "rating": rating,
        "dimensions": rating_rows(rating) if rating is not None else [],
        "follow_up": follow_up,
        "due": follow_up_due(follow_up) if follow_up is not None else None,
        "can_rate": rating is None and may_rate(user, application),
        "application": application,
    }


def rating_rows(rating: Rating) -> list[tuple[str, str]]:
    """Each dimension's label and the level given, for display."""
    return [
        (str(label), str(Satisfaction(getattr(rating, name)).label)) for name, label in DIMENSIONS.items()
    ]


def review_page_rating_panel(*, application: Application) -> dict[str, Any] | None:
    """The review page's card with the enterprise's rating and the follow-up, once there is one."""
    rating = rating_of(application)
    if rating is None:
        return None
    follow_up = getattr(rating, "follow_up", None)
    return {
        "template": "review/_rating_panel.html",
        "rating": rating,
        "dimensions": rating_rows(rating),
        "follow_up": follow_up,
        "due": follow_up_due(follow_up) if follow_up is not None else None,
        "can_rate": False,
        "staff": True,
        "application": application,
    }


def follow_up_moves(*, before: CalendarState, after: CalendarState, today: dt.date) -> list[Move]:
    """Receiver of ``calendar.moves``: the open follow-ups whose deadline an official holiday year
    changes. A center deadline, so the earlier date is kept; the approvers are told with the
    other moves (``calendar.loaded``). Nothing is stored: the deadline is computed when shown."""
    official_only = CalendarState(after.calendar, {})
    approvers = tuple(user.pk for user in _follow_up_users())
    moves: list[Move] = []
    open_ones = RatingFollowUp.objects.filter(status=RatingFollowUp.Status.OPEN).select_related(
        "rating__application"
    )
    for follow_up in open_ones:
        params = params_at(follow_up.opened_on)
        shown = rating_follow_up_due(follow_up.opened_on, params, state=before)
        official = rating_follow_up_due(follow_up.opened_on, params, state=official_only)
        if shown.date == official.date:
            continue
        settled = rating_follow_up_due(follow_up.opened_on, params, state=after)
        application = follow_up.rating.application
        moves.append(
            Move(
                key=f"rating_follow_up:{follow_up.pk}",
                label=_("差评回访答复期限"),
                subject=_("申请 %(reference)s（%(title)s）")
                % {"reference": application.reference or application.pk, "title": application.work_title},
                party=CENTER,
                before=shown.date,
                official=official.date,
                after=settled.date,
                provisional_after=settled.provisional,
                user_ids=approvers,
                application_id=application.pk,
                link=reverse("review:follow_up", args=[follow_up.pk]),
            )
        )
    return moves
