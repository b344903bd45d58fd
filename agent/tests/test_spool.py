from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent.spool import Spool


def _record(n: int) -> dict[str, Any]:
    return {
        "record_id": f"00000000-0000-4000-8000-{n:012d}",
        "gpu_uuid": "GPU-a",
        "ended_at": f"2026-03-01T08:{n:02d}:00+08:00",
    }


def test_records_wait_in_order_until_acknowledged(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.put_many([_record(1), _record(2), _record(3)])
    entries = spool.pending()
    assert [e.record_id for e in entries] == [_record(n)["record_id"] for n in (1, 2, 3)]
    assert spool.ack(entries[:2]) == 2
    assert [e.record_id for e in spool.pending()] == [_record(3)["record_id"]]
    assert spool.pending_count() == 1


def test_a_rejected_record_is_kept_with_its_reason_and_not_pending(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.put_many([_record(1)])
    spool.reject(spool.pending()[0], "签名无效")
    assert spool.pending_count() == 0
    assert spool.rejected_count() == 1
    kept = spool.rejected()[0]
    assert kept["reason"] == "签名无效"
    assert kept["record"] == _record(1)


def test_state_is_saved_with_the_records(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.put_many([_record(1)], state={"high_water": {"GPU-a": "2026-03-01T08:01:00+08:00"}})
    assert Spool(tmp_path).load_state() == {"high_water": {"GPU-a": "2026-03-01T08:01:00+08:00"}}


def test_recovery_keeps_complete_temp_records_and_drops_torn_ones(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    (spool.tmp_dir / "0001-a.json.tmp").write_text(json.dumps(_record(1)))
    (spool.tmp_dir / "0002-b.json.tmp").write_text('{"record_id": "00000000-00')
    (spool.tmp_dir / "state.json.partial").write_text("{")
    assert spool.recover() == 1
    assert [e.record_id for e in spool.pending()] == [_record(1)["record_id"]]
    assert list(spool.tmp_dir.iterdir()) == []


def test_an_unreadable_pending_file_is_set_aside_not_sent(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    (spool.pending_dir / "0001-x.json").write_text("garbage")
    spool.put_many([_record(2)])
    assert [e.record_id for e in spool.pending()] == [_record(2)["record_id"]]
    assert spool.rejected_count() == 1
