"""The pure audit rules: reconciliation flags at their boundaries, the robust z-score and sampling."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

from django.test import SimpleTestCase
from hypothesis import given
from hypothesis import strategies as st

from audits import quarters, rules
from audits.quarters import Quarter
from audits.rules import Conflict, Declared, DeclaredRow, MonitoredRecord, MonitoredSummary, Usage, Window

BEIJING = dt.timezone(dt.timedelta(hours=8))
TOL = Decimal("0.05")


def at(day: int, hour: int = 8) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, tzinfo=BEIJING)


def declared(cost: str = "1000.00", gpu_minutes: int = 600, **kw: object) -> Declared:
    rows = (
        DeclaredRow("r1", at(1), at(1) + dt.timedelta(minutes=gpu_minutes), 1, gpu_minutes, Decimal(cost)),
    )
    fields: dict[str, object] = {
        "total_compute_cost": Decimal(cost),
        "compute_minutes": 100,
        "work_minutes": 100,
        "launch_date": dt.date(2026, 3, 20),
        "rows": rows,
    }
    fields.update(kw)
    return Declared(**fields)  # type: ignore[arg-type]


def monitored(cost: str = "1000.00", minutes: int = 600, count: int = 10) -> MonitoredSummary:
    return MonitoredSummary(total=Usage(count, minutes * 60_000, Decimal(cost)))


def codes(flags: list[rules.Flag]) -> list[str]:
    return [f.code for f in flags]


class ReconcileRuleTests(SimpleTestCase):
    def test_declared_equal_to_monitored_raises_no_flag(self) -> None:
        self.assertEqual(rules.reconcile(declared(), monitored(), tolerance=TOL), [])

    def test_over_claim_starts_just_above_the_tolerance(self) -> None:
        self.assertEqual(rules.reconcile(declared("1050.00"), monitored(), tolerance=TOL), [])
        flags = rules.reconcile(declared("1050.01"), monitored(), tolerance=TOL)
        self.assertEqual(codes(flags), ["over_claim"])
        self.assertEqual(flags[0].numbers["excess"], "50.01")
        self.assertIn("超出容差 5% 的上限 1050.00", flags[0].message)

    def test_over_claim_of_gpu_time_is_reported_separately_from_cost(self) -> None:
        flags = rules.reconcile(declared("1000.00", gpu_minutes=700), monitored(), tolerance=TOL)
        self.assertEqual([(f.code, f.numbers["measure"]) for f in flags], [("over_claim", "gpu_minutes")])

    def test_without_rows_declared_gpu_time_falls_back_to_row_22(self) -> None:
        d = declared(rows=(), compute_minutes=700)
        self.assertEqual(d.gpu_minutes, Decimal(700))
        flags = rules.reconcile(d, monitored(), tolerance=TOL)
        self.assertEqual([f.numbers["measure"] for f in flags], ["gpu_minutes"])

    def test_a_claim_without_monitoring_is_one_flag_not_an_over_claim_too(self) -> None:
        flags = rules.reconcile(declared(), MonitoredSummary(), tolerance=TOL)
        self.assertEqual(codes(flags), ["no_monitoring"])
        self.assertEqual(flags[0].severity, "high")

    def test_nothing_declared_and_nothing_monitored_is_not_flagged(self) -> None:
        d = Declared(None, None, None, None)
        self.assertEqual(rules.reconcile(d, MonitoredSummary(), tolerance=TOL), [])

    def test_the_production_window_runs_from_the_first_row_to_the_end_of_launch_day(self) -> None:
        window = rules.production_window(declared(launch_date=dt.date(2026, 3, 5)))
        self.assertEqual(window, Window(at(1), dt.datetime(2026, 3, 6, tzinfo=BEIJING)))
        records = [
            MonitoredRecord("a", "g", at(1, 7), at(1, 8), 3600, Decimal("1")),  # before
            MonitoredRecord("b", "g", at(1, 8), at(1, 9), 3600, Decimal("1")),  # inside, on the edge
            MonitoredRecord("c", "g", at(5, 23), at(6, 0), 3600, Decimal("1")),  # ends exactly at the end
            MonitoredRecord("d", "g", at(5, 23), at(6, 1), 7200, Decimal("1")),  # after
        ]
        summary = rules.summarize(records, window)
        self.assertEqual(
            (summary.before_window.count, summary.after_window.count, summary.total.count), (1, 1, 4)
        )
        self.assertEqual(summary.total.gpu_minutes, Decimal("300.00"))

    def test_declared_rows_ending_after_launch_are_outside_the_window(self) -> None:
        flags = rules.reconcile(declared(), monitored(), tolerance=TOL, declared_rows_after_window=2)
        self.assertEqual(codes(flags), ["outside_window"])
        self.assertEqual(flags[0].numbers["declared_rows_after"], 2)

    def test_double_claims_are_counted_by_kind_and_listed_in_a_fixed_order(self) -> None:
        conflicts = [
            Conflict("gpu_time", "GPU-9", "B", "W2", None, True),
            Conflict("record_id", "r1", "A", "W1", 7, False),
            Conflict("record_id", "r1", "A", "W1", 7, False),  # the same conflict twice counts once
        ]
        flags = rules.reconcile(declared(), monitored(), conflicts, tolerance=TOL)
        numbers = flags[0].numbers
        self.assertEqual(
            (numbers["record_id"], numbers["gpu_time"], numbers["cross_enterprise"]), (1, 1, True)
        )
        self.assertEqual([c["kind"] for c in numbers["conflicts"]], ["gpu_time", "record_id"])

    def test_cost_outlier_uses_median_and_mad(self) -> None:
        peers = rules.peer_stats([Decimal(v) for v in ("8", "9", "10", "10.5", "11", "12", "100")])
        assert peers is not None
        self.assertEqual((peers.median, peers.scale, peers.method), (Decimal("10.5"), Decimal("1.5"), "mad"))
        flags = rules.reconcile(
            declared("10000.00", gpu_minutes=600), monitored("10000.00"), peers=peers, tolerance=TOL
        )
        self.assertEqual(codes(flags), ["cost_outlier"])
        self.assertEqual(
            rules.reconcile(declared("1200.00"), monitored("1200.00"), peers=peers, tolerance=TOL), []
        )

    def test_the_outlier_threshold_is_a_modified_z_of_3_5(self) -> None:
        peers = rules.PeerStats(7, Decimal("10"), Decimal("1"), "mad")
        # z = 0.6745 × (x − 10) / 1: 15.18 → 3.494, 15.19 → 3.501
        self.assertLess(abs(peers.z(Decimal("15.18"))), rules.Z_THRESHOLD)
        self.assertGreater(abs(peers.z(Decimal("15.19"))), rules.Z_THRESHOLD)

    def test_when_most_peers_agree_the_scale_falls_back_to_the_mean_absolute_deviation(self) -> None:
        peers = rules.peer_stats([Decimal(v) for v in ("10", "10", "10", "10", "11", "9", "100")])
        assert peers is not None
        self.assertEqual(peers.method, "mean_ad")
        self.assertGreater(peers.z(Decimal("100")), rules.Z_THRESHOLD)

    def test_too_few_or_identical_peers_give_no_outlier_verdict(self) -> None:
        self.assertIsNone(rules.peer_stats([Decimal(10)] * 4))
        self.assertIsNone(rules.peer_stats([Decimal(10)] * 9))

    def test_gpu_seconds_add_up_exactly_whatever_the_order(self) -> None:
        records = [
            MonitoredRecord(str(i), "g", at(1), at(1), s, Decimal("0.10"))
            for i, s in enumerate((0.1, 0.2, 0.3))
        ]
        forward = rules.summarize(records, Window(None, None))
        backward = rules.summarize(reversed(records), Window(None, None))
        self.assertEqual(forward.total.gpu_ms, 600)
        self.assertEqual(forward, backward)


class SamplingRuleTests(SimpleTestCase):
    def test_quarters_parse_and_end_at_midnight_beijing_time(self) -> None:
        q = Quarter.parse("2026q3")
        self.assertEqual(str(q), "2026Q3")
        self.assertEqual((q.first_day, q.last_day), (dt.date(2026, 7, 1), dt.date(2026, 9, 30)))
        self.assertEqual(q.ends_at, dt.datetime(2026, 10, 1, tzinfo=BEIJING))
        self.assertEqual(Quarter.parse("2026Q4").ends_at, dt.datetime(2027, 1, 1, tzinfo=BEIJING))
        self.assertEqual(Quarter.of(dt.date(2026, 2, 28)), Quarter(2026, 1))
        for bad in ("2026Q5", "2026-3", "Q3", ""):
            with self.assertRaises(ValueError):
                Quarter.parse(bad)

    def test_sample_size_is_the_larger_of_the_minimum_and_the_rate_capped_at_n(self) -> None:
        rate = Decimal("0.10")
        cases = {0: 0, 2: 2, 3: 3, 29: 3, 30: 3, 31: 4, 100: 10, 101: 11}
        for n, k in cases.items():
            self.assertEqual(quarters.sample_size(n, rate=rate, min_count=3), k, n)

    def test_the_seed_and_order_keys_follow_the_published_formula(self) -> None:
        root = bytes(range(32))
        seed = quarters.spot_check_seed(root, "2026Q3")
        self.assertEqual(seed, hashlib.sha256(root + b"2026Q3").digest())
        self.assertEqual(quarters.order_key(seed, 42), hashlib.sha256(seed + b"42").digest())

    @given(
        st.sets(st.integers(min_value=1, max_value=10**9), max_size=60), st.binary(min_size=32, max_size=32)
    )
    def test_the_sample_is_the_first_k_by_order_key_and_ignores_candidate_order(
        self, ids: set[int], root: bytes
    ) -> None:
        a = quarters.draw_sample(root, "2026Q1", sorted(ids), rate=Decimal("0.1"), min_count=3)
        b = quarters.draw_sample(root, "2026Q1", sorted(ids, reverse=True), rate=Decimal("0.1"), min_count=3)
        self.assertEqual(a, b)
        keys = [k for _i, k in a.ordered]
        self.assertEqual(keys, sorted(keys))
        self.assertEqual(len(a.sample_ids), quarters.sample_size(len(ids), rate=Decimal("0.1"), min_count=3))
