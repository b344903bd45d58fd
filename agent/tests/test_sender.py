from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Any

from agent.sender import Backoff, Sender
from agent.spool import Spool
from agent.tests.sink import accept_all, running_sink


def _records(n: int) -> list[dict[str, Any]]:
    return [{"record_id": f"00000000-0000-4000-8000-{i:012d}", "gpu_uuid": "GPU-a"} for i in range(n)]


def test_acknowledged_records_leave_the_spool_and_rejected_ones_are_kept_with_the_reason(tmp_path: Path) -> None:
    def answer(records: list[dict[str, Any]]) -> tuple[int, Any]:
        results = []
        for r in records:
            status = ["accepted", "duplicate", "rejected"][int(r["record_id"][-12:]) % 3]
            results.append(
                {
                    "record_id": r["record_id"],
                    "status": status,
                    "reason": "签名无效" if status == "rejected" else None,
                }
            )
        return 200, {"results": results, "checkpoint": "cp"}

    spool = Spool(tmp_path)
    spool.put_many(_records(9))
    with running_sink(answer) as sink:
        result = Sender(spool, sink.url, "tok", batch_size=4).send_pending()
    assert (result.acked, result.rejected, result.errors) == (6, 3, [])
    assert [len(b) for b in sink.batches] == [4, 4, 1]
    assert sink.headers[0]["Authorization"] == "Bearer tok"
    assert spool.pending_count() == 0
    assert {r["reason"] for r in spool.rejected()} == {"签名无效"}


def test_a_server_error_keeps_everything_for_a_retry(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.put_many(_records(3))
    with running_sink(lambda records: (503, {"detail": "维护中"})) as sink:
        result = Sender(spool, sink.url, "tok").send_pending()
    assert result.failed
    assert spool.pending_count() == 3


def test_an_unreachable_platform_keeps_everything(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.put_many(_records(2))
    with running_sink() as sink:
        url = sink.url
    result = Sender(spool, url, "tok", timeout=2).send_pending()
    assert result.failed and "cannot reach" in result.errors[0]
    assert spool.pending_count() == 2


def test_a_bad_token_drops_nothing(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.put_many(_records(2))
    with running_sink(lambda records: (401, {"detail": "令牌无效"})) as sink:
        result = Sender(spool, sink.url, "bad").send_pending()
    assert result.errors == ["HTTP 401: 令牌无效"]
    assert spool.pending_count() == 2
    assert spool.rejected_count() == 0


def test_records_missing_from_the_answer_stay_pending(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.put_many(_records(4))

    def half(records: list[dict[str, Any]]) -> tuple[int, Any]:
        return accept_all(records[:2])

    with running_sink(half) as sink:
        result = Sender(spool, sink.url, "tok").send_pending()
    assert result.acked == 2 and result.failed
    assert spool.pending_count() == 2


def test_a_too_large_batch_is_split(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.put_many(_records(8))

    def limit(records: list[dict[str, Any]]) -> tuple[int, Any]:
        return (413, {"detail": "too many"}) if len(records) > 3 else accept_all(records)

    with running_sink(limit) as sink:
        result = Sender(spool, sink.url, "tok", batch_size=8).send_pending()
    assert result.acked == 8
    assert spool.pending_count() == 0


def test_an_unparseable_record_is_isolated_and_set_aside(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    records = _records(5)
    records[3]["gpu_uuid"] = "poison"
    spool.put_many(records)

    def strict(batch: list[dict[str, Any]]) -> tuple[int, Any]:
        if any(r["gpu_uuid"] == "poison" for r in batch):
            return 400, {"detail": "bad json"}
        return accept_all(batch)

    with running_sink(strict) as sink:
        result = Sender(spool, sink.url, "tok").send_pending()
    assert (result.acked, result.rejected) == (4, 1)
    assert spool.rejected()[0]["record"]["gpu_uuid"] == "poison"


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap() -> None:
    backoff = Backoff(base=1, cap=60, rng=random.Random(4))
    delays = [backoff.next_delay() for _ in range(10)]
    for n, delay in enumerate(delays):
        ceiling = min(60, 2**n)
        assert ceiling / 2 <= delay <= ceiling
    assert backoff.next_delay(retry_after=1000) == 60
    backoff.reset()
    assert backoff.next_delay() <= 1


def test_the_send_loop_retries_until_the_platform_answers(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.put_many(_records(3))
    calls = {"n": 0}

    def flaky(records: list[dict[str, Any]]) -> tuple[int, Any]:
        calls["n"] += 1
        return (503, {}) if calls["n"] < 3 else accept_all(records)

    with running_sink(flaky) as sink:
        sender = Sender(spool, sink.url, "tok", backoff=Backoff(base=0.01, cap=0.05))
        stop, wake = threading.Event(), threading.Event()
        thread = threading.Thread(
            target=sender.run, args=(stop, wake), kwargs={"poll": 0.01, "finished": lambda: True}
        )
        thread.start()
        thread.join(10)
        stop.set()
    assert not thread.is_alive()
    assert calls["n"] == 3
    assert spool.pending_count() == 0
