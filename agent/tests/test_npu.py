"""Ascend NPUs: recorded ``npu-smi info`` outputs become the same signed records as GPUs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.attribution import Attributor
from agent.collector import Collector
from agent.npu import NpuSmiBackend, parse_npu_smi
from agent.signing import generate_key, load_public_key, public_key_b64, verify_record
from agent.spool import Spool
from agent.tests.test_collector import PROVENANCE_FIELDS, SPEC_FIELDS, USCC

DATA = Path(__file__).parent / "data"


def output(name: str) -> str:
    return (DATA / f"npu-smi-{name}.txt").read_text()


def test_npu_smi_info_is_read_chip_by_chip() -> None:
    chips = parse_npu_smi(output("910b-busy"))
    assert [(c.card, c.chip, c.name, c.bus_id) for c in chips] == [
        (0, 0, "910B3", "0000:C1:00.0"),
        (1, 0, "910B3", "0000:C2:00.0"),
        (2, 0, "910B3", "0000:81:00.0"),
    ]
    first = chips[0]
    assert (first.power_w, first.aicore_pct, first.memory_used_mb) == (356.8, 92, 52870)
    assert [c.processes for c in chips] == [[(2546862, 49703)], [(2547001, 20551), (2547188, 16398)], []]


def test_an_inference_card_with_two_chips_and_no_power_reading_is_read() -> None:
    chips = parse_npu_smi(output("310p"))
    assert [(c.card, c.chip, c.power_w, c.aicore_pct, c.memory_used_mb) for c in chips] == [
        (8, 0, None, 45, 10342),
        (8, 1, None, 0, 1790),
    ]
    assert chips[0].processes == [(31057, 8561)]


def label(root: Path, pid: int, work_ref: str) -> None:
    folder = root / str(pid)
    folder.mkdir(parents=True)
    (folder / "stat").write_text(f"{pid} (python3.9) S " + " ".join(["3"] * 30))
    (folder / "environ").write_bytes(f"YINGDU_WORK_REF={work_ref}\0YINGDU_ENTERPRISE_USCC={USCC}\0".encode())


def test_the_ascend_backend_turns_recorded_outputs_into_the_same_records(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    label(proc, 2546862, "京剧备字2026005号")
    label(proc, 2547001, "WR-tts")
    label(proc, 2547188, "WR-voice")
    outputs = iter([output("910b-idle")] * 2 + [output("910b-busy")] * 8 + [output("910b-idle")])
    start = datetime(2026, 3, 1, tzinfo=UTC)
    moments = iter(start + timedelta(seconds=15 * n) for n in range(100))
    backend = NpuSmiBackend(
        "hz-npu-3", Attributor(proc_root=proc), clock=lambda: next(moments), run=lambda: next(outputs)
    )
    key = generate_key(tmp_path / "node.key")
    collector = Collector(node_id="hz-npu-3", key=key, spool=Spool(tmp_path / "spool"), record_seconds=300)
    records: list[dict[str, Any]] = []
    for _ in range(10):
        records += collector.step(backend.sample())
    records += collector.flush()
    by_work = {r["work_ref"]: r for r in records}
    assert sorted(by_work) == ["WR-tts", "WR-voice", "京剧备字2026005号"]
    train = by_work["京剧备字2026005号"]
    assert sorted(train) == sorted(SPEC_FIELDS + PROVENANCE_FIELDS)
    assert (train["gpu_uuid"], train["gpu_model"], train["gpu_seconds"]) == (
        "NPU-hz-npu-3-0000:C1:00.0",
        "Ascend 910B3",
        120,
    )
    assert (train["avg_util_pct"], train["max_mem_mib"], train["split_rule"], train["energy_rule"]) == (
        92, 49703, "exclusive", "power",
    )  # fmt: skip
    assert train["energy_wh"] == pytest.approx(356.8 * 120 / 3600, abs=0.001)
    # Two jobs on one NPU: npu-smi reports no per-process utilisation, so they split it equally.
    tts, voice = by_work["WR-tts"], by_work["WR-voice"]
    assert tts["gpu_seconds"] == voice["gpu_seconds"] == 60
    assert tts["split_rule"] == voice["split_rule"] == "equal"
    public = load_public_key(public_key_b64(key))
    assert all(verify_record(r, public) for r in records)
