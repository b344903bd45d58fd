"""Billing-grade records: ids from content, and no signature while the clock cannot be trusted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.backends import FakeBackend
from agent.clock import ClockPolicy, ClockState, timex_state
from agent.collector import Collector, content_id
from agent.signing import generate_key, load_public_key, public_key_b64, verify_record
from agent.spool import Spool
from agent.tests.test_collector import IDLE, busy, collect, timeline


class ScriptedClock:
    """The clock probe at the hardware edge: answers whatever state the test sets."""

    def __init__(self, state: ClockState) -> None:
        self.state = state

    def read(self) -> ClockState:
        return self.state


SYNCED = ClockState(True, 12, "adjtimex")
ADRIFT = ClockState(False, 16000, "adjtimex")


def test_the_same_usage_always_gives_the_same_record(tmp_path: Path) -> None:
    key = generate_key(tmp_path / "node.key")
    script = timeline((1, [IDLE]), (12, [busy("a")]))
    first = collect(script, key, Spool(tmp_path / "one"), record_seconds=60)
    again = collect(script, key, Spool(tmp_path / "two"), record_seconds=60)
    assert first == again
    assert all(r["record_id"] == content_id(r) for r in first)
    assert len({r["record_id"] for r in first}) == len(first) == 3


def test_an_unsynchronised_clock_makes_the_agent_spool_unsigned_until_it_syncs(tmp_path: Path) -> None:
    key = generate_key(tmp_path / "node.key")
    spool = Spool(tmp_path / "spool")
    clock = ScriptedClock(ADRIFT)
    collector = Collector(node_id="n", key=key, spool=spool, record_seconds=60, clock_probe=clock)
    backend = FakeBackend.from_script(timeline((1, [IDLE]), (8, [busy("a")]), (4, [busy("b")])))
    signed: list[dict[str, Any]] = []
    for _ in range(9):
        sample = backend.sample()
        assert sample is not None
        closed = collector.step(sample)
        collector.store(closed)
        signed += closed
    assert signed == [] and spool.pending_count() == 0
    assert spool.unsigned_count() == 2
    assert {e.record["clock_sync"] for e in spool.unsigned()} == {"unsynchronized"}
    assert all("signature" not in e.record for e in spool.unsigned())
    clock.state = SYNCED
    while (sample := backend.sample()) is not None:
        closed = collector.step(sample)
        collector.store(closed)
        signed += closed
    closed = collector.flush()
    collector.store(closed)
    signed += closed
    assert spool.unsigned_count() == 0
    assert [r["clock_sync"] for r in signed] == ["unsynchronized", "unsynchronized", "synchronized"]
    assert [r.get("clock_max_error_ms") for r in signed] == [16000, 16000, 12]
    public = load_public_key(public_key_b64(key))
    assert all(verify_record(r, public) for r in signed)
    assert sorted(e.record["record_id"] for e in spool.pending()) == sorted(r["record_id"] for r in signed)


def test_a_restart_while_records_wait_unsigned_keeps_them_and_their_time(tmp_path: Path) -> None:
    key = generate_key(tmp_path / "node.key")
    script = timeline((1, [IDLE]), (8, [busy("a")]))
    collect(script, key, Spool(tmp_path), record_seconds=60, clock_probe=ScriptedClock(ADRIFT))
    assert Spool(tmp_path).unsigned_count() == 2
    records = collect(script, key, Spool(tmp_path), record_seconds=60, clock_probe=ScriptedClock(SYNCED))
    # The replayed timeline adds nothing new; the held records are signed once the clock is good.
    assert [r["gpu_seconds"] for r in records] == [60, 60]
    assert Spool(tmp_path).unsigned_count() == 0


def test_the_clock_policy_refuses_only_a_clock_known_to_be_off() -> None:
    policy = ClockPolicy(max_error_ms=1000)
    assert policy.may_sign(ClockState(None))
    assert policy.may_sign(SYNCED)
    assert policy.may_sign(ClockState(False, 400))
    assert not policy.may_sign(ADRIFT)
    assert not policy.may_sign(ClockState(False, None))
    assert not policy.may_sign(ClockState(True, 5000))


def test_adjtimex_answers_are_read_as_the_kernel_means_them() -> None:
    assert timex_state(0, 0x2001, 250_000) == ClockState(True, 250, "adjtimex")
    assert timex_state(5, 0x0041, 16_000_000) == ClockState(False, 16000, "adjtimex")
    assert timex_state(0, 0x0040, 1000).synchronized is False
