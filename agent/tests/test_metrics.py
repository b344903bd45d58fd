"""Prometheus ``/metrics``: served on loopback, parsed by prometheus_client, its counters equal to the records sent."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from agent.backends import FakeBackend
from agent.collector import Collector
from agent.metrics import AgentMetrics
from agent.sender import Sender
from agent.signing import generate_key
from agent.spool import Spool
from agent.tests.sink import running_sink
from agent.tests.test_cli import ROOT, agent_command, run_args, write_timeline
from agent.tests.test_collector import IDLE, busy, timeline


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_metrics_parse_and_their_counters_match_the_records_sent(tmp_path: Path) -> None:
    metrics = AgentMetrics()
    spool = Spool(tmp_path / "spool")
    metrics.watch_spool(spool.pending_count, spool.unsigned_count)
    collector = Collector(
        node_id="n", key=generate_key(tmp_path / "k"), spool=spool, record_seconds=60,
        on_record=metrics.record, on_sample=metrics.sample,
    )  # fmt: skip
    script = timeline((1, [IDLE, IDLE]), (9, [busy("a", util=80), busy("b", util=60)]), gpus=2)
    collector.run(FakeBackend.from_script(script), interval=15, stop=threading.Event())
    server, _thread = metrics.serve("127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
    try:
        before = scrape(url)
        assert before[("yingdu_agent_spool_pending", ())] == 6
        with running_sink() as sink:
            sender = Sender(spool, sink.url, "tok")
            metrics.delivery(sender.send_pending())
        after = scrape(url)
    finally:
        server.shutdown()
    sent = sink.records
    assert len(sent) == 6
    for work_ref, gpu in (("WR-A", "GPU-0"), ("WR-B", "GPU-1")):
        labels = (
            ("attribution", "environ"), ("device_uuid", gpu), ("gpu_uuid", gpu),
            ("job_id", "job-a" if work_ref == "WR-A" else ""), ("work_ref", work_ref),
        )  # fmt: skip
        mine = [r for r in sent if r["work_ref"] == work_ref]
        assert after[("yingdu_agent_gpu_seconds_total", labels)] == sum(r["gpu_seconds"] for r in mine) == 135
        assert after[("yingdu_agent_energy_wh_total", labels)] == sum(r["energy_wh"] for r in mine)
    assert (
        after[("yingdu_agent_records_total", (("energy_rule", "counter"), ("split_rule", "exclusive")))] == 6
    )
    assert after[("yingdu_agent_records_acknowledged_total", ())] == 6
    assert after[("yingdu_agent_spool_pending", ())] == 0
    assert after[("yingdu_agent_gpu_utilization_percent", (("gpu_uuid", "GPU-1"),))] == 60
    assert after[("yingdu_agent_last_acknowledgement_timestamp_seconds", ())] > 0
    assert after[("yingdu_agent_signing_refusals_total", ())] == 0


def test_the_running_agent_serves_metrics_on_loopback(tmp_path: Path) -> None:
    subprocess.run(agent_command("keygen", "--key", str(tmp_path / "node.key")), cwd=ROOT, check=True)
    path = write_timeline(tmp_path / "timeline.json", gpus=1, busy_ticks=2000)
    path.write_text(path.read_text().replace('"start"', '"time_scale": 0.001, "start"'))
    port = free_port()
    with running_sink() as sink:
        args = run_args(sink.url, tmp_path, "--metrics-port", str(port), "--max-runtime", "30")
        proc = subprocess.Popen(agent_command(*args), cwd=ROOT, stderr=subprocess.DEVNULL)
        try:
            found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                time.sleep(0.2)
                try:
                    found = scrape(f"http://127.0.0.1:{port}/metrics")
                except OSError:
                    continue
                if found.get(("yingdu_agent_records_acknowledged_total", ()), 0) >= 2:
                    break
        finally:
            proc.terminate()
            proc.wait(20)
    seconds = sum(v for (name, _), v in found.items() if name == "yingdu_agent_gpu_seconds_total")
    assert found[("yingdu_agent_records_acknowledged_total", ())] >= 2
    assert seconds >= 120
    assert {r["record_id"] for r in sink.records}
