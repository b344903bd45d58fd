"""The agent's Prometheus ``/metrics`` (text exposition format), on loopback unless told otherwise.

Counters follow the signed records (a record counts once, when it is signed); gauges show
the last sample of each device and the spool. A centre's Prometheus scrapes it like any
exporter; ``--metrics-host 0.0.0.0`` exposes it beyond the node.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from threading import Thread
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from agent.backends import Sample
from agent.sender import PassResult

log = logging.getLogger("yingdu.agent")

JOB_LABELS = ("gpu_uuid", "device_uuid", "work_ref", "job_id", "attribution")


class AgentMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.gpu_seconds = Counter(
            "yingdu_agent_gpu_seconds",
            "GPU seconds in signed records, per device and job",
            JOB_LABELS,
            registry=r,
        )
        self.energy_wh = Counter(
            "yingdu_agent_energy_wh",
            "Energy (Wh) in signed records, per device and job",
            JOB_LABELS,
            registry=r,
        )
        self.records = Counter(
            "yingdu_agent_records", "Records signed", ["split_rule", "energy_rule"], registry=r
        )
        self.utilization = Gauge(
            "yingdu_agent_gpu_utilization_percent",
            "Device utilisation at the last sample",
            ["gpu_uuid"],
            registry=r,
        )
        self.power = Gauge(
            "yingdu_agent_gpu_power_watts", "Device power at the last sample", ["gpu_uuid"], registry=r
        )
        self.signing_refusals = Counter(
            "yingdu_agent_signing_refusals",
            "Records left unsigned because the clock was unsynchronised",
            registry=r,
        )
        self.acked = Counter(
            "yingdu_agent_records_acknowledged", "Records the platform acknowledged", registry=r
        )
        self.send_errors = Counter(
            "yingdu_agent_send_errors", "Failed deliveries to the platform", registry=r
        )
        self.last_ack = Gauge(
            "yingdu_agent_last_acknowledgement_timestamp_seconds",
            "Unix time of the platform's last acknowledgement",
            registry=r,
        )
        self.spool_pending = Gauge(
            "yingdu_agent_spool_pending", "Signed records waiting for the platform", registry=r
        )
        self.spool_unsigned = Gauge(
            "yingdu_agent_spool_unsigned", "Records waiting for a synchronised clock to be signed", registry=r
        )

    def watch_spool(self, pending: Callable[[], int], unsigned: Callable[[], int]) -> None:
        """Spool depths are read when scraped."""
        self.spool_pending.set_function(lambda: float(pending()))
        self.spool_unsigned.set_function(lambda: float(unsigned()))

    def record(self, record: dict[str, Any]) -> None:
        """Count one signed record."""
        labels = [str(record.get(name, "")) for name in JOB_LABELS]
        self.gpu_seconds.labels(*labels).inc(float(record["gpu_seconds"]))
        self.energy_wh.labels(*labels).inc(float(record["energy_wh"]))
        self.records.labels(str(record.get("split_rule", "")), str(record.get("energy_rule", ""))).inc()

    def refused(self, count: int) -> None:
        self.signing_refusals.inc(count)

    def sample(self, sample: Sample) -> None:
        for gpu in sample.gpus:
            if not gpu.mig_parent:
                self.utilization.labels(gpu.uuid).set(gpu.util_pct)
            if gpu.power_mw is not None:
                self.power.labels(gpu.uuid).set(gpu.power_mw / 1000)

    def delivery(self, result: PassResult) -> None:
        if result.acked:
            self.acked.inc(result.acked)
            self.last_ack.set(time.time())
        if result.failed:
            self.send_errors.inc()

    def serve(self, host: str = "127.0.0.1", port: int = 9477) -> tuple[Any, Thread]:
        """Serve ``/metrics`` in a background thread; returns the server (``shutdown()``) and its thread."""
        server, thread = start_http_server(port, addr=host, registry=self.registry)
        return server, thread
