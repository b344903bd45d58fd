"""Announcements between the layered apps (core.hooks)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction
from django.test import TestCase

from core import hooks


@contextmanager
def receiving(hook: str, receiver: hooks.Receiver, *, first: bool = False) -> Iterator[None]:
    """Register ``receiver`` for the duration of the block (``first``: before the apps' receivers)."""
    saved = hooks.receivers(hook)
    if first:
        for other in saved:
            hooks.unregister(hook, other)
    hooks.register(hook, receiver)
    try:
        yield
    finally:
        for other in hooks.receivers(hook):
            hooks.unregister(hook, other)
        for other in saved:
            hooks.register(hook, other)


class AnnouncementTests(TestCase):
    def test_it_delivers_an_announcement_only_after_the_transaction_commits(self) -> None:
        calls: list[dict[str, Any]] = []
        with (
            receiving(hooks.RE_REVIEW_PASSED, lambda **kw: calls.append(kw), first=True),
            self.captureOnCommitCallbacks(execute=True),
            transaction.atomic(),
        ):
            hooks.announce(hooks.RE_REVIEW_PASSED, application_id=7, actor=None)
            self.assertEqual(calls, [])
        self.assertEqual(calls, [{"application_id": 7, "actor": None}])

    def test_it_delivers_nothing_for_a_change_that_rolled_back(self) -> None:
        calls: list[dict[str, Any]] = []
        with (
            receiving(hooks.RE_REVIEW_PASSED, lambda **kw: calls.append(kw), first=True),
            self.captureOnCommitCallbacks(execute=True) as callbacks,
        ):
            try:
                with transaction.atomic():
                    hooks.announce(hooks.RE_REVIEW_PASSED, application_id=7, actor=None)
                    raise RuntimeError("refused")
            except RuntimeError:
                pass
        self.assertEqual((calls, callbacks), ([], []))

    def test_it_keeps_delivering_when_one_receiver_fails(self) -> None:
        calls: list[str] = []

        def broken(**_kw: Any) -> None:
            raise ConnectionRefusedError("mail server down")

        with receiving(hooks.RE_REVIEW_PASSED, broken, first=True):
            hooks.register(hooks.RE_REVIEW_PASSED, lambda **_kw: calls.append("second"))
            with self.assertLogs("django", "ERROR") as logs, self.captureOnCommitCallbacks(execute=True):
                hooks.announce(hooks.RE_REVIEW_PASSED, application_id=7, actor=None)
            self.assertIn("broken", logs.output[0])
        self.assertEqual(calls, ["second"])

    def test_it_collects_the_answers_of_every_receiver_in_order(self) -> None:
        with receiving(hooks.REVIEW_PAGE_PANELS, lambda **kw: {"n": 1}, first=True):
            hooks.register(hooks.REVIEW_PAGE_PANELS, lambda **kw: None)
            hooks.register(hooks.REVIEW_PAGE_PANELS, lambda **kw: {"n": 2})
            self.assertEqual(hooks.collect(hooks.REVIEW_PAGE_PANELS, application=None), [{"n": 1}, {"n": 2}])

    def test_it_refuses_a_hook_nobody_declared(self) -> None:
        with self.assertRaises(ValueError):
            hooks.announce("application.sneezed")
        with self.assertRaises(ValueError):
            hooks.register("application.sneezed", print)

    def test_it_has_the_higher_apps_register_their_receivers_at_start(self) -> None:
        from audits import receivers as audit_receivers
        from review import notify

        self.assertEqual(
            hooks.receivers(hooks.APPLICATION_SUBMITTED),
            [notify.send_submission_receipt, audit_receivers.reconcile_on_submission],
        )
        self.assertIn(
            audit_receivers.reconcile_before_final_approval, hooks.receivers(hooks.RE_REVIEW_PASSED)
        )
        self.assertIn(audit_receivers.reconciliation_panel, hooks.receivers(hooks.REVIEW_PAGE_PANELS))
