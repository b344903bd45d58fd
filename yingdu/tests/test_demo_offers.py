"""The demo's 达标即享: works in production, launched works with offers pending, accepted offers in
review, and a payment instruction, played through the platform's own actions."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.test import TestCase

from accounts.roles import Role
from applications.models import Offer, Work
from applications.states import Status
from demo import year
from demo.game import Demo
from demo.offers import plan_offers
from review.models import PaymentInstruction
from testing.fixtures import make_application, make_user

TODAY = dt.date(2026, 12, 4)


@time_machine.travel(dt.datetime(2026, 12, 4, 18, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))), tick=False)
class DemoOfferTests(TestCase):
    def test_the_demo_shows_works_in_production_pending_and_accepted_offers_and_a_payment_batch(self) -> None:
        staff = {name: make_user(name, role) for name, role in (
            ("reviewer", Role.REVIEWER), ("finance", Role.FINANCE), ("sysadmin", Role.SYSADMIN),
        )}  # fmt: skip
        game = Demo(start=TODAY - dt.timedelta(days=70), today=TODAY)
        year.cast(game, staff)
        # Approved applications waiting to be paid, as the demo year leaves them.
        approved = game.users["yingzhi"].enterprise
        assert approved is not None
        make_application(approved, game.users["yingzhi"], Status.APPROVED, granted_amount="5000.00")
        plan_offers(game)
        year.play(game)
        assert Work.objects.filter(launch_date__isnull=True).count() == 2
        assert Offer.objects.filter(status=Offer.Status.PENDING).count() == 2
        accepted = Offer.objects.filter(status=Offer.Status.ACCEPTED)
        assert accepted.count() == 2
        assert {o.application.status for o in accepted if o.application} == {Status.SUBMITTED}
        assert all(o.estimate > 0 for o in Offer.objects.all())
        instruction = PaymentInstruction.objects.get()
        assert instruction.items.count() == 1
