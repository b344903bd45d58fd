"""Acceptance: the sample for a fixed checkpoint and quarter equals one computed independently from the
published formula; the CLI and the public JSON show the same sample."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import math
from typing import ClassVar

import time_machine
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError

from applications.models import Application
from applications.states import Status
from audits import spotchecks
from audits.models import ReconciliationRun, SpotCheck
from audits.sampling import SampleUnavailable, compute_sample
from audits.tests.fixtures import make_application
from ledger.models import AuditEvent, Checkpoint
from testing.fixtures import BaseTestCase

BEIJING = dt.timezone(dt.timedelta(hours=8))
ROOT = bytes.fromhex("5f2a0c7d9e1b3a4c6d8e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e")
NOW = dt.datetime(2026, 11, 2, 10, 0, tzinfo=BEIJING)


def independent_sample(root: bytes, quarter: str, ids: list[int], rate: float, min_count: int) -> list[int]:
    """The formula of docs/audits.md, written again from the text, sharing no code with the platform."""
    seed = hashlib.sha256(root + quarter.encode()).digest()
    ordered = sorted(ids, key=lambda i: hashlib.sha256(seed + str(i).encode()).digest())
    k = min(len(ids), max(min_count, math.ceil(rate * len(ids))))
    return ordered[:k]


def checkpoint(size: int, root: bytes, when: dt.datetime) -> Checkpoint:
    return Checkpoint.objects.create(
        tree_size=size,
        root_hash=root,
        note=f"testing.fixtures/log\n{size}\n...\n",
        key_hash="0a1b2c3d",
        created_at=when,
    )


@time_machine.travel(NOW, tick=False)
class SpotCheckTests(BaseTestCase):
    paid: ClassVar[list[Application]]

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        # The last checkpoint of the quarter, the first one after it (the seed) and a later one.
        checkpoint(100, b"\x01" * 32, dt.datetime(2026, 9, 30, 23, 59, 59, tzinfo=BEIJING))
        checkpoint(120, ROOT, dt.datetime(2026, 10, 1, 0, 0, 5, tzinfo=BEIJING))
        checkpoint(130, b"\x02" * 32, dt.datetime(2026, 10, 1, 0, 10, tzinfo=BEIJING))

        def paid_at(when: dt.datetime, n: int) -> Application:
            return make_application(
                cls.enterprise,
                cls.alice,
                f"Q3-{n}",
                cost="10000.00",
                work_minutes=100,
                status=Status.PAID,
                submitted_at=when - dt.timedelta(days=20),
                paid_at=when,
                granted="3000.00",
            )

        cls.paid = [
            paid_at(dt.datetime(2026, 7, 1, 9, tzinfo=BEIJING) + dt.timedelta(days=3 * i), i)
            for i in range(31)
        ]
        # Exactly on the edges: the first and last instants of the quarter count, the neighbours do not.
        cls.paid.append(paid_at(dt.datetime(2026, 7, 1, 0, 0, tzinfo=BEIJING), 100))
        cls.paid.append(paid_at(dt.datetime(2026, 9, 30, 23, 59, 59, tzinfo=BEIJING), 101))
        paid_at(dt.datetime(2026, 6, 30, 23, 59, 59, tzinfo=BEIJING), 102)
        paid_at(dt.datetime(2026, 10, 1, 0, 0, tzinfo=BEIJING), 103)
        # Paid in the quarter and clawed back since: still a candidate of the quarter.
        Application.objects.filter(pk=cls.paid[0].pk).update(status=Status.CLAWED_BACK)

    def test_the_sample_equals_one_computed_independently_from_the_formula(self) -> None:
        ids = [a.pk for a in self.paid]
        expected = independent_sample(ROOT, "2026Q3", ids, 0.10, 3)
        sample, used, params = compute_sample("2026Q3")
        self.assertEqual(used.tree_size, 120)
        self.assertEqual(sample.n, 33)
        self.assertEqual(sample.k, 4)  # ceil(0.10 × 33) = 4 > 3
        self.assertEqual(sample.sample_ids, expected)
        self.assertEqual(sample.seed, hashlib.sha256(ROOT + b"2026Q3").digest())

    def test_a_small_quarter_is_sampled_at_the_minimum_count_and_never_more_than_all(self) -> None:
        keep = {a.pk for a in self.paid[:5]}
        Application.objects.filter(pk__in=[a.pk for a in self.paid if a.pk not in keep]).update(paid_at=None)
        sample, _cp, _params = compute_sample("2026Q3")
        self.assertEqual((sample.n, sample.k), (5, 3))
        self.assertEqual(sample.sample_ids, independent_sample(ROOT, "2026Q3", sorted(keep), 0.10, 3))
        Application.objects.filter(pk__in=list(keep)[2:]).update(paid_at=None)
        sample, _cp, _params = compute_sample("2026Q3")
        self.assertEqual((sample.n, sample.k), (2, 2))

    def test_opening_the_spot_check_stores_what_anyone_needs_to_recompute_it(self) -> None:
        spot = spotchecks.open_spot_check("2026Q3", actor=self.inspector)
        sample, _cp, _params = compute_sample("2026Q3")
        self.assertEqual(spot.sample_ids, sample.sample_ids)
        self.assertEqual(spot.seed, hashlib.sha256(ROOT + b"2026Q3").hexdigest())
        self.assertEqual((spot.checkpoint_tree_size, spot.checkpoint_root), (120, ROOT.hex()))
        self.assertEqual(spot.candidate_ids[: spot.k], spot.sample_ids)
        self.assertEqual(sorted(spot.candidate_ids), sorted(a.pk for a in self.paid))
        event = AuditEvent.objects.get(action="audit.spot_check")
        self.assertEqual((event.after or {})["sample"], spot.sample_ids)
        # Each sampled application is reconciled at once.
        runs = ReconciliationRun.objects.filter(trigger=ReconciliationRun.Trigger.SPOT_CHECK)
        self.assertEqual(sorted(runs.values_list("application_id", flat=True)), sorted(spot.sample_ids))
        # Opening it again changes nothing.
        self.assertEqual(spotchecks.open_spot_check("2026Q3", actor=self.inspector).pk, spot.pk)
        self.assertEqual(SpotCheck.objects.count(), 1)

    def test_only_an_inspector_opens_a_spot_check(self) -> None:
        with self.assertRaises(PermissionDenied):
            spotchecks.open_spot_check("2026Q3", actor=self.reviewer)

    def test_a_quarter_is_not_sampled_before_it_ends_or_before_a_checkpoint_follows_it(self) -> None:
        with self.assertRaisesMessage(SampleUnavailable, "2026Q4 尚未结束"):
            compute_sample("2026Q4")
        with (
            time_machine.travel(dt.datetime(2027, 1, 5, tzinfo=BEIJING)),
            self.assertRaisesMessage(SampleUnavailable, "2026Q4 结束后尚未签署日志检查点"),
        ):
            compute_sample("2026Q4")

    def test_the_cli_prints_seed_checkpoint_n_k_and_the_sample(self) -> None:
        out = io.StringIO()
        call_command("audit", "sample", "--quarter", "2026Q3", "--json", stdout=out)
        doc = json.loads(out.getvalue())
        expected = independent_sample(ROOT, "2026Q3", [a.pk for a in self.paid], 0.10, 3)
        self.assertEqual(doc["sample"], expected)
        self.assertEqual((doc["n"], doc["k"]), (33, 4))
        self.assertEqual(doc["seed"], hashlib.sha256(ROOT + b"2026Q3").hexdigest())
        self.assertEqual(doc["checkpoint"]["tree_size"], 120)
        self.assertEqual(doc["checkpoint"]["root_hash_hex"], ROOT.hex())
        self.assertFalse(doc["opened"])
        text = io.StringIO()
        call_command("audit", "sample", "--quarter", "2026q3", stdout=text)
        self.assertIn("种子：" + doc["seed"], text.getvalue())
        self.assertIn("候选 N = 33，抽样 k = 4", text.getvalue())
        self.assertIn("样本：" + " ".join(str(i) for i in expected), text.getvalue())

    def test_the_cli_opens_the_spot_check_for_a_named_inspector(self) -> None:
        call_command(
            "audit", "sample", "--quarter", "2026Q3", "--open", "--user", "inspector", stdout=io.StringIO()
        )
        self.assertTrue(SpotCheck.objects.filter(quarter="2026Q3", created_by=self.inspector).exists())

    def test_the_cli_refuses_a_quarter_that_cannot_be_sampled_yet(self) -> None:
        with self.assertRaises(CommandError) as caught:
            call_command("audit", "sample", "--quarter", "2026Q4", stdout=io.StringIO())
        self.assertEqual(caught.exception.returncode, 2)
        with self.assertRaisesMessage(CommandError, "格式不正确"):
            call_command("audit", "sample", "--quarter", "2026-3", stdout=io.StringIO())

    def test_the_public_json_shows_the_same_sample_without_signing_in(self) -> None:
        response = self.client.get("/api/v1/audits/samples/2026Q3")
        self.assertEqual(response.status_code, 200)
        doc = response.json()
        self.assertEqual(
            doc["sample"], independent_sample(ROOT, "2026Q3", [a.pk for a in self.paid], 0.10, 3)
        )
        self.assertEqual(len(doc["candidates"]), 33)
        self.assertNotIn("enterprise", json.dumps(doc))
        self.assertEqual(self.client.get("/api/v1/audits/samples/2026Q4").status_code, 404)
        self.assertEqual(self.client.get("/api/v1/audits/samples/nonsense").status_code, 404)
