"""Periodic jobs run once per slot of their schedule, however often they are enqueued."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.test import TestCase
from huey import crontab

from core import periodic
from core.models import PeriodicRun
from ledger.actions import append_entries
from ledger.models import Checkpoint, VerificationRun
from ledger.tasks import sign_periodic_checkpoint, verify_ledger_nightly

UTC = dt.UTC


class SlotTests(TestCase):
    def test_it_finds_the_latest_minute_the_crontab_matches(self) -> None:
        daily = crontab(hour="0", minute="30")
        every5 = crontab(minute="*/5")
        now = dt.datetime(2026, 3, 12, 9, 7, 42, tzinfo=UTC)
        self.assertEqual(periodic.latest_slot(daily, now), dt.datetime(2026, 3, 12, 0, 30, tzinfo=UTC))
        self.assertEqual(periodic.latest_slot(every5, now), dt.datetime(2026, 3, 12, 9, 5, tzinfo=UTC))
        early = dt.datetime(2026, 3, 12, 0, 29, tzinfo=UTC)
        self.assertEqual(periodic.latest_slot(daily, early), dt.datetime(2026, 3, 11, 0, 30, tzinfo=UTC))

    def test_it_reads_beijing_time_as_utc_like_the_scheduler(self) -> None:
        beijing = dt.timezone(dt.timedelta(hours=8))
        now = dt.datetime(2026, 3, 12, 8, 31, tzinfo=beijing)  # 00:31 UTC
        slot = periodic.latest_slot(crontab(hour="0", minute="30"), now)
        self.assertEqual(slot, dt.datetime(2026, 3, 12, 0, 30, tzinfo=UTC))


class OncePerSlotTests(TestCase):
    def test_it_runs_the_job_once_when_two_workers_run_the_same_slot(self) -> None:
        append_entries([b"a"], kind="test")
        with time_machine.travel(dt.datetime(2026, 3, 12, 3, 20, tzinfo=UTC), tick=False):
            verify_ledger_nightly.call_local()
            verify_ledger_nightly.call_local()
        self.assertEqual(VerificationRun.objects.count(), 1)
        run = PeriodicRun.objects.get()
        self.assertEqual(run.job, "ledger.tasks.verify_ledger_nightly")
        self.assertEqual(run.slot, dt.datetime(2026, 3, 12, 3, 17, tzinfo=UTC))
        self.assertIsNotNone(run.finished_at)

    def test_it_runs_the_job_again_in_the_next_slot(self) -> None:
        append_entries([b"a"], kind="test")
        with time_machine.travel(dt.datetime(2026, 3, 12, 3, 20, tzinfo=UTC), tick=False):
            sign_periodic_checkpoint.call_local()
        append_entries([b"b"], kind="test")
        with time_machine.travel(dt.datetime(2026, 3, 12, 3, 24, tzinfo=UTC), tick=False):
            sign_periodic_checkpoint.call_local()  # same slot (03:20): skipped
        self.assertEqual(list(Checkpoint.objects.values_list("tree_size", flat=True)), [1])
        with time_machine.travel(dt.datetime(2026, 3, 12, 3, 25, tzinfo=UTC), tick=False):
            sign_periodic_checkpoint.call_local()
        self.assertEqual(sorted(Checkpoint.objects.values_list("tree_size", flat=True)), [1, 2])
        self.assertEqual(PeriodicRun.objects.filter(job="ledger.tasks.sign_periodic_checkpoint").count(), 2)

    def test_it_frees_the_slot_when_the_job_fails_so_that_a_retry_runs(self) -> None:
        calls: list[int] = []

        @periodic.periodic_job(crontab(minute="*/10"))
        def flaky_job_for_test() -> int:
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("the first try fails")
            return len(calls)

        try:
            with time_machine.travel(dt.datetime(2026, 3, 12, 3, 21, tzinfo=UTC), tick=False):
                with self.assertRaises(RuntimeError):
                    flaky_job_for_test.call_local()
                self.assertFalse(PeriodicRun.objects.exists())
                self.assertEqual(flaky_job_for_test.call_local(), 2)
                self.assertIsNone(flaky_job_for_test.call_local())
        finally:
            periodic.JOBS.pop(f"{__name__}.flaky_job_for_test")
        self.assertEqual(len(calls), 2)

    def test_it_catches_up_every_periodic_job_once_per_worker_process(self) -> None:
        periodic.reset_catch_up()
        try:
            with time_machine.travel(dt.datetime(2026, 3, 12, 3, 20, tzinfo=UTC), tick=False):
                enqueued = periodic.catch_up()  # the suite's Huey is immediate: the jobs run here
                again = periodic.catch_up()
        finally:
            periodic.reset_catch_up()
        self.assertEqual(
            set(enqueued),
            {
                "ledger.tasks.sign_periodic_checkpoint",
                "ledger.tasks.verify_ledger_nightly",
                "policy.tasks.daily_holiday_schedule_check",
                "review.tasks.daily_deadline_reminders",
                "review.tasks.daily_offer_deadlines",
                "core.tasks.requeue_unsent_email",
            },
        )
        self.assertEqual(again, [])
        self.assertEqual(PeriodicRun.objects.count(), 6)
        self.assertEqual(VerificationRun.objects.count(), 1)

    def test_it_takes_over_a_run_whose_worker_died_but_not_one_still_running(self) -> None:
        slot = dt.datetime(2026, 3, 12, 3, 17, tzinfo=UTC)
        with time_machine.travel(dt.datetime(2026, 3, 12, 3, 18, tzinfo=UTC), tick=False):
            self.assertTrue(periodic.claim("ledger.tasks.verify_ledger_nightly", slot))  # then killed
        with time_machine.travel(dt.datetime(2026, 3, 12, 3, 40, tzinfo=UTC), tick=False):
            verify_ledger_nightly.call_local()  # still within the hour: it may be running
        self.assertEqual(VerificationRun.objects.count(), 0)
        with time_machine.travel(dt.datetime(2026, 3, 12, 4, 30, tzinfo=UTC), tick=False):
            verify_ledger_nightly.call_local()
            verify_ledger_nightly.call_local()
        self.assertEqual(VerificationRun.objects.count(), 1)
        self.assertIsNotNone(PeriodicRun.objects.get().finished_at)
