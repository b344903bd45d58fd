"""好差评: an ended case is rated once by its enterprise; a poor rating opens a follow-up that the
approver answers in writing by a deadline of working days (docs/ratings.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from applications import actions as intake
from applications.models import Application
from applications.states import Status
from core.formats import date_text
from core.models import Notification
from ledger.models import AuditEvent
from policy.actions import preview_holiday_year
from policy.calendar import get_calendar
from policy.loader import params_at
from review import actions, ratings
from review.models import Rating, RatingFollowUp
from review.tests.helpers import ReviewTestCase
from review.transitions import ReviewError
from testing.fixtures import make_application

SH = dt.timezone(dt.timedelta(hours=8))
GOOD = {"guidance": 5, "convenience": 4, "efficiency": 5, "attitude": 5, "overall": 5}
POOR = {"guidance": 3, "convenience": 2, "efficiency": 1, "attitude": 3, "overall": 2}


def form(levels: dict[str, int], comment: str = "") -> dict[str, Any]:
    return {**{k: str(v) for k, v in levels.items()}, "comment": comment}


class RatingTests(ReviewTestCase):
    def ended(self, status: Status = Status.REJECTED) -> Application:
        return make_application(self.enterprise, self.alice, status)

    def test_it_asks_the_enterprise_once_to_rate_a_case_that_ends(self) -> None:
        rejected = make_application(self.enterprise, self.alice, Status.INITIAL_REVIEW)
        withdrawn = make_application(self.enterprise, self.alice, Status.SUBMITTED)
        draft = make_application(self.enterprise, self.alice, Status.DRAFT)
        with self.captureOnCommitCallbacks(execute=True):
            actions.reject_application(rejected, actor=self.reviewer, opinion="不符合申报条件")
        with self.captureOnCommitCallbacks(execute=True):
            intake.withdraw_application(withdrawn, actor=self.alice, reason="项目取消")
        with self.captureOnCommitCallbacks(execute=True):
            intake.withdraw_application(draft, actor=self.alice, reason="项目取消")
        ratings.ask_for_rating(application_id=rejected.pk)  # announced twice: still one request

        requests = Notification.objects.filter(kind=Notification.Kind.RATING_REQUEST, user=self.alice)
        self.assertEqual(
            sorted(requests.values_list("application_id", flat=True)), [rejected.pk, withdrawn.pk]
        )
        request = requests.get(application=rejected)
        self.assertEqual(request.link, reverse("review:rate", args=[rejected.pk]))
        self.assertIn("请对本次服务作出评价", request.title)
        self.login(self.alice)
        page = self.client.get(reverse("applications:detail", args=[rejected.pk]))
        self.assertContains(page, 'id="rate-link"')
        self.assertNotContains(self.client.get(reverse("applications:detail", args=[draft.pk])), "rate-link")
        form_page = self.client.get(request.link)
        self.assertContains(form_page, "非常不满意")
        self.assertContains(form_page, "办事便捷度")

    def test_it_refuses_a_second_rating_with_a_clear_message(self) -> None:
        app = self.ended()
        self.login(self.alice)
        url = reverse("review:rate", args=[app.pk])
        first = self.client.post(url, form(GOOD, "办理顺畅"))
        self.assertRedirects(first, reverse("applications:detail", args=[app.pk]))
        second = self.client.post(url, form(POOR))
        self.assertEqual(second.status_code, 409)
        self.assertContains(second, "本申请已评价，每件办结事项只能评价一次", status_code=409)
        rating = Rating.objects.get(application=app)
        self.assertEqual((rating.overall, rating.comment, rating.rated_by), (5, "办理顺畅", self.alice))
        with self.assertRaisesMessage(ReviewError, "只能评价一次"):
            ratings.rate_application(app, levels=POOR, actor=self.alice)
        with self.assertRaises(IntegrityError), transaction.atomic():
            Rating.objects.create(application=app, rated_by=self.alice, rated_at=timezone.now(), **POOR)
        event = AuditEvent.objects.get(action="application.rate")
        self.assertEqual((event.after or {})["overall"], 5)
        self.assertFalse(RatingFollowUp.objects.exists())

    def test_only_the_enterprises_own_users_may_rate(self) -> None:
        app = self.ended()
        self.login(self.bob)
        self.assertEqual(self.client.post(reverse("review:rate", args=[app.pk]), form(POOR)).status_code, 404)
        for outsider in (self.bob, self.approver):
            with self.assertRaises(ReviewError) as refused:
                ratings.rate_application(app, levels=POOR, actor=outsider)
            self.assertEqual(refused.exception.status, 403)
        self.assertFalse(Rating.objects.exists())

    def test_it_refuses_a_case_still_open_a_missing_level_and_a_long_comment(self) -> None:
        self.login(self.alice)
        open_case = make_application(self.enterprise, self.alice, Status.RE_REVIEW)
        refused = self.client.post(reverse("review:rate", args=[open_case.pk]), form(GOOD))
        self.assertContains(refused, "办结后才能评价", status_code=409)
        app = self.ended(Status.WITHDRAWN)
        missing = self.client.post(reverse("review:rate", args=[app.pk]), form({**GOOD, "attitude": 9}))
        self.assertContains(missing, "服务态度", status_code=400)
        long = self.client.post(reverse("review:rate", args=[app.pk]), form(GOOD, "长" * 501))
        self.assertEqual(long.status_code, 400)
        with self.assertRaisesMessage(ReviewError, "评价意见不超过 500 字"):
            ratings.rate_application(app, levels=GOOD, comment="长" * 501, actor=self.alice)
        self.assertFalse(Rating.objects.exists())

    @time_machine.travel(dt.datetime(2026, 3, 2, 10, 0, tzinfo=SH), tick=False)
    def test_a_poor_rating_opens_a_follow_up_visible_to_the_approver_with_its_deadline(self) -> None:
        app = self.ended(Status.PAID)
        with self.captureOnCommitCallbacks(execute=True):
            ratings.rate_application(app, levels=POOR, comment="审核太慢", actor=self.alice)
        follow_up = RatingFollowUp.objects.get(rating__application=app)
        workdays = params_at(dt.date(2026, 3, 2)).get("deadline.rating_follow_up_workdays")
        due = get_calendar().add_workdays(dt.date(2026, 3, 2), workdays)
        self.assertEqual(ratings.follow_up_due(follow_up).date, due)
        self.assertFalse(ratings.follow_up_due(follow_up).provisional)
        notice = Notification.objects.get(kind=Notification.Kind.RATING_FOLLOW_UP)
        self.assertEqual(
            (notice.user, notice.link), (self.approver, reverse("review:follow_up", args=[follow_up.pk]))
        )
        self.assertIn(due.isoformat(), notice.title)

        self.login(self.approver)
        listing = self.client.get(reverse("review:follow_ups"))
        self.assertContains(listing, str(app.reference))
        self.assertContains(listing, date_text(due))
        self.assertContains(self.client.get(notice.link), "审核太慢")
        self.login(self.head)
        self.assertEqual(self.client.get(reverse("review:follow_ups")).status_code, 403)

        self.login(self.approver)
        blank = self.client.post(reverse("review:close_follow_up", args=[follow_up.pk]), {"response": " "})
        self.assertContains(blank, "请填写回访答复", status_code=400)
        with self.captureOnCommitCallbacks(execute=True):
            closed = self.client.post(
                reverse("review:close_follow_up", args=[follow_up.pk]),
                {"response": "已电话回访，审核流程已优化"},
            )
        self.assertRedirects(closed, reverse("review:follow_ups"))
        follow_up.refresh_from_db()
        self.assertEqual(
            (follow_up.status, follow_up.closed_by), (RatingFollowUp.Status.CLOSED, self.approver)
        )
        event = AuditEvent.objects.get(action="application.rating_follow_up_close")
        after = event.after or {}
        self.assertEqual((after["due"], after["late"]), (due.isoformat(), False))
        self.assertTrue(
            Notification.objects.filter(user=self.alice, kind=Notification.Kind.FOLLOW_UP_REPLY).exists()
        )
        review_page = self.client.get(reverse("review:detail", args=[app.pk]))
        self.assertContains(review_page, "企业已于")
        self.assertContains(review_page, "已电话回访，审核流程已优化")
        self.login(self.alice)
        page = self.client.get(reverse("applications:detail", args=[app.pk]))
        self.assertContains(page, "已电话回访，审核流程已优化")
        again = self.client.post(
            reverse("review:close_follow_up", args=[follow_up.pk]), {"response": "再答复"}
        )
        self.assertEqual(again.status_code, 403)

    @time_machine.travel(dt.datetime(2026, 12, 21, 10, 0, tzinfo=SH), tick=False)
    def test_a_follow_up_due_in_a_year_without_an_official_schedule_is_provisional(self) -> None:
        app = self.ended()
        ratings.rate_application(app, levels={**GOOD, "overall": 1}, actor=self.alice)
        follow_up = RatingFollowUp.objects.get()
        due = ratings.follow_up_due(follow_up)
        self.assertEqual((due.date.year, due.provisional), (2027, True))
        self.login(self.approver)
        self.assertContains(self.client.get(reverse("review:follow_ups")), "暂定")
        # An official 2027 with a week off after New Year moves the official date later; the
        # center keeps the earlier one, and the approvers are told with the other moves.
        year = {
            "year": 2027,
            "source": "测试",
            "holidays": [f"2027-01-0{d}" for d in range(1, 9)],
            "workdays": [],
        }
        with time_machine.travel(dt.datetime(2026, 12, 28, 10, 0, tzinfo=SH), tick=False):
            moves = {m.key: m for m in preview_holiday_year(year)[1]}
        move = moves[f"rating_follow_up:{follow_up.pk}"]
        self.assertEqual((move.before, move.after, move.user_ids), (due.date, due.date, (self.approver.pk,)))
        self.assertGreater(move.official, due.date)
        with time_machine.travel(dt.datetime(2027, 3, 1, 10, 0, tzinfo=SH), tick=False):
            self.assertTrue(ratings.is_overdue(follow_up, timezone.localdate()))
            self.login(self.approver)
            self.assertContains(self.client.get(reverse("review:follow_ups")), "已逾期")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_ratings_leave_one() -> None:
    """The unique key holds where two requests pass the check at once (PostgreSQL row lock)."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from accounts.roles import Role
    from testing.fixtures import make_enterprise, make_user

    enterprise = make_enterprise()
    alice = make_user("alice", Role.APPLICANT, enterprise=enterprise)
    app = make_application(enterprise, alice, Status.REJECTED)

    def rate(levels: dict[str, int]) -> str:
        try:
            ratings.rate_application(app, levels=levels, actor=alice)
        except ReviewError as exc:
            return exc.message
        finally:
            connection.close()
        return "ok"

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(rate, [GOOD, POOR]))
    assert results.count("ok") == 1
    assert any("只能评价一次" in r for r in results)
    assert Rating.objects.filter(application=app).count() == 1
