"""``yingdu agent`` (or ``yingdu-agent`` where only the agent is installed): the collector on GPU nodes.

No Django, no database. ``run`` is the default command, so ``yingdu-agent --backend fake …``
is ``yingdu-agent run --backend fake …``.

    yingdu agent keygen --key /etc/yingdu-agent/node.key
    yingdu agent run --server https://… --token … --node-id hz-gpu-017 \\
        --key /etc/yingdu-agent/node.key --spool /var/lib/yingdu-agent [--interval 15] [--backend nvml|fake]
    yingdu agent status --spool /var/lib/yingdu-agent
    yingdu agent sign-file --key node.key usage.csv      # detached signature for a CSV/sacct upload
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import ssl
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import FrameType
from typing import IO

from agent import __version__
from agent.attribution import Attributor
from agent.backends import Backend, BackendError, FakeBackend, NvmlBackend
from agent.clock import PROBES, ClockPolicy, ClockProbe
from agent.collector import Collector
from agent.metrics import AgentMetrics
from agent.sender import Backoff, Sender
from agent.signing import KeyFileError, generate_key, load_key, public_key_b64, sign_bytes
from agent.spool import Spool

log = logging.getLogger("yingdu.agent")

EXIT_OK = 0
EXIT_FATAL = 1
EXIT_PENDING = 3


def _price(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise argparse.ArgumentTypeError(f"not a price: {text!r}") from exc
    if value < 0 or value != value.quantize(Decimal("0.0001")):
        raise argparse.ArgumentTypeError(f"not a price: {text!r}")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="yingdu agent", description="GPU usage collector for the platform.")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--version", action="version", version=f"yingdu-agent {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="sample GPUs, sign records, spool and send them")
    run.add_argument("--server", required=True, help="platform base URL, e.g. https://yingdu.example.cn")
    run.add_argument(
        "--token",
        default=os.environ.get("YINGDU_AGENT_TOKEN"),
        help="provider API token (or $YINGDU_AGENT_TOKEN)",
    )
    run.add_argument("--token-file", type=Path, help="read the token from this file instead")
    run.add_argument("--node-id", required=True)
    run.add_argument("--key", required=True, type=Path, help="the node's Ed25519 key file")
    run.add_argument(
        "--spool", required=True, type=Path, help="spool directory (records wait here until acknowledged)"
    )
    run.add_argument("--interval", type=_positive, default=15.0, help="seconds between samples (default 15)")
    run.add_argument(
        "--backend",
        choices=["nvml", "npu", "fake"],
        default="nvml",
        help="NVIDIA GPUs, Ascend NPUs (npu-smi) or a timeline",
    )
    run.add_argument("--fake-timeline", type=Path, help="JSON/YAML timeline for --backend fake")
    run.add_argument(
        "--record-seconds",
        type=_positive,
        default=300.0,
        help="close a job's record after this long (default 300)",
    )
    run.add_argument(
        "--price-per-gpu-hour", type=_price, default=Decimal("0.00"), help="CNY per GPU hour for cost_cny"
    )
    run.add_argument("--enterprise-uscc", default="", help="USCC for jobs whose label does not name one")
    run.add_argument("--labels-file", type=Path, help="container id → job label JSON file")
    run.add_argument(
        "--kubelet-socket",
        type=Path,
        help="attribute GPUs to pods through this pod-resources socket "
        "(e.g. /var/lib/kubelet/pod-resources/kubelet.sock; needs yingdu-agent[k8s])",
    )
    run.add_argument("--kube-api", help="API server URL for pod annotations (default: in-cluster)")
    run.add_argument("--kube-token-file", type=Path, help="bearer token file for --kube-api")
    run.add_argument("--kube-ca-file", type=Path, help="CA bundle for --kube-api")
    run.add_argument("--slurm-job-dir", type=Path, help="directory of job files written by the Slurm prolog")
    run.add_argument("--batch-size", type=int, default=1000)
    run.add_argument("--http-timeout", type=_positive, default=30.0)
    run.add_argument("--backoff-max", type=_positive, default=300.0, help="longest wait between retries (s)")
    run.add_argument("--cacert", type=Path, help="CA bundle for the platform's certificate")
    run.add_argument(
        "--once", action="store_true", help="exit when collection has ended and the spool is empty"
    )
    run.add_argument("--send-only", action="store_true", help="do not sample; deliver the spool and exit")
    run.add_argument("--max-runtime", type=_positive, help="stop after this many seconds")
    run.add_argument("--sample-log", type=Path, help="append every sample as a JSON line (diagnostics)")
    run.add_argument(
        "--clock-probe",
        choices=["auto", *PROBES],
        default="auto",
        help="how the clock's sync is read (auto: adjtimex on GPUs, none for a fake timeline)",
    )
    run.add_argument(
        "--clock-max-error-ms",
        type=int,
        default=1000,
        help="records are not signed while the clock is unsynchronised beyond this (default 1000)",
    )
    run.add_argument(
        "--max-power-w", type=_positive, default=1000.0, help="energy per device is clamped to this power"
    )
    run.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        help="address of the Prometheus /metrics endpoint (default loopback)",
    )
    run.add_argument(
        "--metrics-port", type=int, default=9477, help="port of /metrics (default 9477; 0 turns it off)"
    )
    run.add_argument(
        "--sample-power",
        action="store_true",
        help="also read power where the energy counter exists (diagnostics)",
    )

    status = sub.add_parser("status", help="pending and rejected records in a spool")
    status.add_argument("--spool", required=True, type=Path)
    status.add_argument("--json", action="store_true")

    keygen = sub.add_parser("keygen", help="create the node's Ed25519 key and print its public half")
    keygen.add_argument("--key", required=True, type=Path)

    pubkey = sub.add_parser("pubkey", help="print the public half of a node key")
    pubkey.add_argument("--key", required=True, type=Path)

    sign_file = sub.add_parser("sign-file", help="detached signature over a CSV or sacct file for upload")
    sign_file.add_argument("--key", required=True, type=Path)
    sign_file.add_argument("file", type=Path)
    sign_file.add_argument("--out", type=Path, help="default: FILE.sig")
    return parser


COMMANDS = frozenset({"run", "status", "keygen", "pubkey", "sign-file"})


def with_default_command(argv: list[str]) -> list[str]:
    """``argv`` with ``run`` inserted when it names no command (after the global ``--log-level``)."""
    if any(arg in COMMANDS or arg in ("-h", "--help", "--version") for arg in argv):
        return argv
    head = 2 if argv[:1] == ["--log-level"] else 1 if argv[:1] and argv[0].startswith("--log-level=") else 0
    return [*argv[:head], "run", *argv[head:]]


def main(argv: list[str] | None = None) -> int:
    argv = with_default_command(list(sys.argv[1:] if argv is None else argv))
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    try:
        if args.command == "run":
            return cmd_run(args)
        if args.command == "status":
            return cmd_status(args)
        if args.command == "keygen":
            generate_key(args.key)
            print(public_key_b64(load_key(args.key)))
            return EXIT_OK
        if args.command == "pubkey":
            print(public_key_b64(load_key(args.key)))
            return EXIT_OK
        if args.command == "sign-file":
            signature = sign_bytes(args.file.read_bytes(), load_key(args.key))
            out = args.out or args.file.with_name(args.file.name + ".sig")
            out.write_text(signature + "\n")
            print(out)
            return EXIT_OK
    except FileExistsError as exc:
        log.error("refusing to overwrite %s", exc.filename)
        return EXIT_FATAL
    except (KeyFileError, BackendError, OSError, ValueError, RuntimeError) as exc:
        log.error("%s", exc)
        return EXIT_FATAL
    return EXIT_FATAL  # pragma: no cover - argparse requires a command


def cmd_status(args: argparse.Namespace) -> int:
    if not args.spool.is_dir():
        log.error("no spool at %s", args.spool)
        return EXIT_FATAL
    spool = Spool(args.spool)
    pending = spool.pending()
    rejected = spool.rejected()
    info = {
        "pending": len(pending),
        "unsigned": spool.unsigned_count(),
        "rejected": len(rejected),
        "oldest_pending": pending[0].record.get("ended_at") if pending else None,
        "high_water": spool.load_state().get("high_water", {}),
        "recent_rejections": [
            {"record_id": (r.get("record") or {}).get("record_id"), "reason": r.get("reason")}
            for r in rejected[-5:]
        ],
    }
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=2))
        return EXIT_OK
    print(f"pending: {info['pending']}")
    if info["unsigned"]:
        print(f"unsigned (waiting for a synchronised clock): {info['unsigned']}")
    print(f"rejected: {info['rejected']}")
    if info["oldest_pending"]:
        print(f"oldest pending record ends at: {info['oldest_pending']}")
    for item in info["recent_rejections"]:
        print(f"rejected {item['record_id']}: {item['reason']}")
    return EXIT_OK


def _token(args: argparse.Namespace) -> str:
    if args.token_file:
        return str(args.token_file.read_text()).strip()
    if not args.token:
        raise ValueError("a provider token is required (--token, --token-file or $YINGDU_AGENT_TOKEN)")
    return str(args.token).strip()


def _attributor(args: argparse.Namespace) -> Attributor:
    kubernetes = None
    if args.kubelet_socket is not None:
        from agent.kubernetes import ApiServerPods, KubernetesAttribution, PodResourcesClient

        pods = ApiServerPods(args.kube_api, token_file=args.kube_token_file, ca_file=args.kube_ca_file)
        client = PodResourcesClient(args.kubelet_socket)
        try:
            devices = client.allocatable()
            log.info(
                "kubelet allocates %d devices: %s",
                len(devices),
                ", ".join(sorted({d for _r, d in devices}))[:500],
            )
        except Exception as exc:  # noqa: BLE001 - a kubelet restarting now is asked again on each refresh
            log.warning("kubelet pod-resources not answering yet: %s", exc)
        kubernetes = KubernetesAttribution(client, pods)
    return Attributor(labels_file=args.labels_file, kubernetes=kubernetes, slurm_job_dir=args.slurm_job_dir)


def _backend(args: argparse.Namespace) -> Backend:
    if args.backend == "fake":
        if args.fake_timeline is None:
            raise ValueError("--backend fake needs --fake-timeline")
        # Processes a timeline names by pid alone are attributed as on a node.
        return FakeBackend.from_script(args.fake_timeline, attributor=_attributor(args))
    if args.backend == "npu":
        from agent.npu import NpuSmiBackend

        return NpuSmiBackend(args.node_id, _attributor(args))
    return NvmlBackend(_attributor(args), sample_power=args.sample_power)


def _clock_probe(args: argparse.Namespace) -> ClockProbe:
    name = args.clock_probe
    if name == "auto":
        name = "none" if args.backend == "fake" else "adjtimex"
    return PROBES[name]()


@contextlib.contextmanager
def _optional_log(path: Path | None) -> Iterator[IO[str] | None]:
    if path is None:
        yield None
        return
    with path.open("a", encoding="utf-8") as handle:
        yield handle


def cmd_run(args: argparse.Namespace) -> int:
    token = _token(args)
    key = load_key(args.key)
    spool = Spool(args.spool)
    recovered = spool.recover()
    if recovered:
        log.info("recovered %d records written just before the last stop", recovered)
    ssl_context = ssl.create_default_context(cafile=str(args.cacert)) if args.cacert else None
    sender = Sender(
        spool,
        args.server,
        token,
        batch_size=args.batch_size,
        timeout=args.http_timeout,
        ssl_context=ssl_context,
        backoff=Backoff(cap=args.backoff_max),
    )
    backend = None if args.send_only else _backend(args)
    metrics = AgentMetrics()
    metrics.watch_spool(spool.pending_count, spool.unsigned_count)
    sender.on_pass = metrics.delivery
    metrics_server = None
    if args.metrics_port:
        try:
            metrics_server, _thread = metrics.serve(args.metrics_host, args.metrics_port)
            log.info("metrics on http://%s:%d/metrics", args.metrics_host, args.metrics_port)
        except OSError as exc:
            log.error("cannot serve metrics on %s:%d: %s", args.metrics_host, args.metrics_port, exc)

    stop = threading.Event()
    wake = threading.Event()
    collecting_done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("%s: stopping", f"signal {signum}" if signum else "max runtime reached")
        stop.set()
        wake.set()

    previous_handlers = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    timer = None
    if args.max_runtime:
        timer = threading.Timer(args.max_runtime, on_signal, args=(0, None))
        timer.daemon = True
        timer.start()

    exit_when_empty = args.once or args.send_only
    sender_thread = threading.Thread(
        target=sender.run,
        args=(stop, wake),
        kwargs={"finished": lambda: exit_when_empty and collecting_done.is_set()},
        name="sender",
        daemon=True,
    )
    sender_thread.start()
    log.info(
        "agent %s started at %s; %d records pending",
        args.node_id,
        datetime.now().astimezone(),
        spool.pending_count(),
    )
    try:
        if backend is not None:
            with _optional_log(args.sample_log) as sample_log:
                collector = Collector(
                    node_id=args.node_id,
                    key=key,
                    spool=spool,
                    record_seconds=args.record_seconds,
                    price_per_gpu_hour=args.price_per_gpu_hour,
                    default_uscc=args.enterprise_uscc,
                    sample_log=sample_log,
                    clock_probe=_clock_probe(args),
                    clock_policy=ClockPolicy(max_error_ms=args.clock_max_error_ms),
                    max_power_w=args.max_power_w,
                    on_record=metrics.record,
                    on_sample=metrics.sample,
                    on_refused=metrics.refused,
                )
                collector.run(backend, interval=args.interval, stop=stop, on_stored=lambda n: wake.set())
                log.info("collection ended: %d records closed", collector.records_closed)
        collecting_done.set()
        wake.set()
        if exit_when_empty:
            while sender_thread.is_alive() and not stop.is_set():
                sender_thread.join(0.5)
        else:
            stop.wait()
    finally:
        stop.set()
        wake.set()
        if backend is not None:
            backend.close()
        if timer is not None:
            timer.cancel()
        if metrics_server is not None:
            metrics_server.shutdown()
        sender_thread.join(args.http_timeout + 5)
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)
    if not sender_thread.is_alive() and spool.pending_count():
        # One last short try, e.g. for the records closed by a SIGTERM.
        sender.timeout = min(sender.timeout, 5.0)
        sender.send_pending()
    pending = spool.pending_count()
    log.info("agent stopped; %d records pending, %d rejected", pending, spool.rejected_count())
    return EXIT_PENDING if exit_when_empty and pending else EXIT_OK
