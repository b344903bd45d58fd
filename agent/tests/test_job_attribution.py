"""Attribution to the job that used the device: Kubernetes pods through a fake kubelet, Slurm jobs.

The fake kubelet is a real gRPC server on a Unix socket whose messages come from the
published pod-resources ``api.proto``, compiled here with grpcio-tools; the API server
answering pod metadata is a small HTTP server on loopback.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
import pytest
from grpc_tools import protoc

from agent.attribution import Attributor, slurm_job_id
from agent.backends import FakeBackend
from agent.cli import main
from agent.collector import Collector
from agent.kubernetes import ApiServerPods, KubernetesAttribution, PodResourcesClient
from agent.podresources import file_descriptor_bytes
from agent.signing import generate_key
from agent.spool import Spool
from agent.tests.sink import running_sink
from agent.tests.test_collector import USCC

PROTO = Path(__file__).resolve().parents[1] / "podresources" / "api.proto"
MIG_BOARD = {
    "uuid": "GPU-m",
    "model": "NVIDIA H200",
    "mig": [
        {"uuid": "MIG-1", "model": "NVIDIA H200 MIG 3g.71gb", "sm": 60},
        {"uuid": "MIG-2", "model": "NVIDIA H200 MIG 1g.18gb", "sm": 16},
    ],
}
POD_UIDS = {
    "render-a": "1b2c3d4e-1111-2222-3333-444455556666",
    "voice-b": "9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff",
}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ModuleType, ModuleType, bytes]]:
    """``api_pb2`` and ``api_pb2_grpc`` compiled from the published proto, and its descriptor set."""
    out = tmp_path_factory.mktemp("podresources")
    shutil.copy(PROTO, out / "kubelet_podresources.proto")
    code = protoc.main(
        [
            "protoc", f"-I{out}", f"--python_out={out}", f"--grpc_python_out={out}",
            f"--descriptor_set_out={out / 'api.desc'}", str(out / "kubelet_podresources.proto"),
        ]
    )  # fmt: skip
    assert code == 0
    sys.path.insert(0, str(out))
    try:
        pb2 = importlib.import_module("kubelet_podresources_pb2")
        pb2_grpc = importlib.import_module("kubelet_podresources_pb2_grpc")
        yield pb2, pb2_grpc, (out / "api.desc").read_bytes()
    finally:
        sys.path.remove(str(out))


def test_the_agents_descriptor_is_the_compiled_published_proto(
    compiled: tuple[ModuleType, ModuleType, bytes],
) -> None:
    from google.protobuf import descriptor_pb2

    (compiled_file,) = descriptor_pb2.FileDescriptorSet.FromString(compiled[2]).file
    ours = descriptor_pb2.FileDescriptorProto.FromString(file_descriptor_bytes())
    compiled_file.name = ours.name
    assert compiled_file == ours


@contextmanager
def fake_kubelet(
    compiled: tuple[ModuleType, ModuleType, bytes], pods: list[tuple[str, str, str, list[str]]]
) -> Iterator[Path]:
    """A kubelet answering ``List`` with ``(namespace, pod, container, device ids)``."""
    pb2, pb2_grpc, _ = compiled

    class Lister(pb2_grpc.PodResourcesListerServicer):  # type: ignore[misc,name-defined]
        def List(self, request: Any, context: Any) -> Any:  # noqa: N802 - the API's name
            answer = pb2.ListPodResourcesResponse()
            for namespace, name, container, devices in pods:
                pod = answer.pod_resources.add(name=name, namespace=namespace)
                entry = pod.containers.add(name=container)
                entry.devices.add(resource_name="nvidia.com/gpu", device_ids=devices)
                entry.cpu_ids.extend([2, 3])
            return answer

        def GetAllocatableResources(self, request: Any, context: Any) -> Any:  # noqa: N802
            answer = pb2.AllocatableResourcesResponse()
            answer.devices.add(resource_name="nvidia.com/gpu", device_ids=[d for *_, ds in pods for d in ds])
            return answer

    folder = Path(tempfile.mkdtemp(prefix="kubelet-", dir="/tmp"))
    socket = folder / "kubelet.sock"
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    pb2_grpc.add_PodResourcesListerServicer_to_server(Lister(), server)
    server.add_insecure_port(f"unix://{socket}")
    server.start()
    try:
        yield socket
    finally:
        server.stop(None)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def fake_api_server(pods: dict[tuple[str, str], dict[str, Any]]) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            parts = self.path.strip("/").split("/")  # api v1 namespaces <ns> pods <name>
            metadata = pods.get((parts[3], parts[5])) if len(parts) == 6 else None
            body = json.dumps(
                {"metadata": metadata} if metadata else {"kind": "Status", "code": 404}
            ).encode()
            self.send_response(200 if metadata else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def process(root: Path, pid: int, cgroup: str, environ: str = "") -> None:
    folder = root / str(pid)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "stat").write_text(f"{pid} (python) S " + " ".join(["7"] * 30))
    (folder / "cgroup").write_text(cgroup)
    (folder / "environ").write_bytes(environ.encode())


def pod_cgroup(uid: str) -> str:
    return f"0::/kubepods.slice/kubepods-pod{uid.replace('-', '_')}.slice/cri-containerd-{'ab' * 32}.scope\n"


def run_timeline(script: dict[str, Any], attributor: Attributor, tmp_path: Path) -> list[dict[str, Any]]:
    backend = FakeBackend.from_script(script, attributor=attributor)
    collector = Collector(
        node_id="k8s-node-1", key=generate_key(tmp_path / "node.key"), spool=Spool(tmp_path / "s")
    )
    records: list[dict[str, Any]] = []
    while (sample := backend.sample()) is not None:
        records += collector.step(sample)
    return records + collector.flush()


def metadata(name: str, work_ref: str, **extra: str) -> dict[str, Any]:
    return {
        "name": name,
        "uid": POD_UIDS[name],
        "labels": {"app": name},
        "annotations": {"yingdu.cn/work-ref": work_ref, "yingdu.cn/enterprise-uscc": USCC, **extra},
    }


def test_a_fake_kubelet_assigns_a_gpu_and_a_mig_instance_to_two_pods(
    compiled: tuple[ModuleType, ModuleType, bytes], tmp_path: Path
) -> None:
    proc = tmp_path / "proc"
    process(proc, 101, pod_cgroup(POD_UIDS["render-a"]))
    process(proc, 202, pod_cgroup(POD_UIDS["voice-b"]))
    assigned = [("studio", "render-a", "main", ["GPU-0"]), ("studio", "voice-b", "tts", ["MIG-2"])]
    pods = {
        ("studio", "render-a"): metadata("render-a", "京剧备字2026001号", **{"yingdu.cn/scenario": "render"}),
        ("studio", "voice-b"): metadata("voice-b", "京剧备字2026002号", **{"yingdu.cn/job-id": "tts-7"}),
    }
    with fake_kubelet(compiled, assigned) as socket, fake_api_server(pods) as api:
        client = PodResourcesClient(socket)
        assert sorted(d for _, d in client.allocatable()) == ["GPU-0", "MIG-2"]
        kubernetes = KubernetesAttribution(client, ApiServerPods(api))
        script = {
            "start": "2026-03-01T08:00:00+08:00",
            "interval": 15,
            "gpus": [{"uuid": "GPU-0"}, MIG_BOARD],
            "ticks": [
                {"gpus": [{}, {}]},
                {
                    "repeat": 4,
                    "gpus": [
                        {"util": 90, "power_w": 600, "procs": [{"pid": 101, "mem_mib": 50000}]},
                        {"power_w": 300, "instances": [{}, {"procs": [{"pid": 202, "mem_mib": 9000}]}]},
                    ],
                },
            ],
        }
        records = run_timeline(script, Attributor(proc_root=proc, kubernetes=kubernetes), tmp_path)
        client.close()
    by_uuid = {r["gpu_uuid"]: r for r in records}
    assert sorted(by_uuid) == ["GPU-0", "MIG-2"]
    render, voice = by_uuid["GPU-0"], by_uuid["MIG-2"]
    assert (render["work_ref"], render["scenario"], render["job_id"]) == (
        "京剧备字2026001号",
        "render",
        "studio/render-a",
    )
    assert (voice["work_ref"], voice["job_id"]) == ("京剧备字2026002号", "tts-7")
    assert {r["attribution"] for r in records} == {"kubernetes"}
    assert (render["attribution_ref"], voice["attribution_ref"]) == (
        "studio/render-a/main",
        "studio/voice-b/tts",
    )
    assert render["enterprise_uscc"] == USCC


def test_pods_time_sharing_a_gpu_are_told_apart_by_the_pod_uid_in_the_cgroup(
    compiled: tuple[ModuleType, ModuleType, bytes], tmp_path: Path
) -> None:
    proc = tmp_path / "proc"
    process(proc, 101, pod_cgroup(POD_UIDS["render-a"]))
    process(proc, 202, pod_cgroup(POD_UIDS["voice-b"]))
    assigned = [("studio", "render-a", "main", ["GPU-0::0"]), ("studio", "voice-b", "tts", ["GPU-0::1"])]
    pods = {
        ("studio", "render-a"): metadata("render-a", "WR-render"),
        ("studio", "voice-b"): metadata("voice-b", "WR-voice"),
    }
    with fake_kubelet(compiled, assigned) as socket, fake_api_server(pods) as api:
        client = PodResourcesClient(socket)
        attributor = Attributor(proc_root=proc, kubernetes=KubernetesAttribution(client, ApiServerPods(api)))
        assert attributor.labels_for(101, "GPU-0").work_ref == "WR-render"  # type: ignore[union-attr]
        assert attributor.labels_for(202, "GPU-0").work_ref == "WR-voice"  # type: ignore[union-attr]
        client.close()


# -- Slurm -------------------------------------------------------------------------------------

SLURM_V1 = (
    "12:devices:/slurm/uid_1000/job_1234/step_0/task_0\n"
    "4:memory:/slurm/uid_1000/job_1234/step_0/task_0\n"
    "1:name=systemd:/system.slice/slurmd.service\n"
)
SLURM_V2 = "0::/system.slice/slurmstepd.scope/job_5678/step_batch/user/task_0\n"


def test_slurm_job_ids_are_read_from_cgroup_v1_and_v2_paths() -> None:
    assert slurm_job_id(SLURM_V1) == "1234"
    assert slurm_job_id(SLURM_V2) == "5678"
    assert slurm_job_id("0::/user.slice/user-1000.slice/session-3.scope\n") == ""


def test_slurm_jobs_are_attributed_through_the_prologs_map(tmp_path: Path) -> None:
    proc, jobs = tmp_path / "proc", tmp_path / "jobs"
    jobs.mkdir()
    # What a prolog writes: KEY=VALUE lines for one job, a JSON object for another.
    (jobs / "1234").write_text(f"YINGDU_WORK_REF=京剧备字2026003号\nYINGDU_ENTERPRISE_USCC={USCC}\n")
    (jobs / "5678").write_text(json.dumps({"YINGDU_WORK_REF": "WR-5678", "YINGDU_SCENARIO": "finetune"}))
    process(proc, 11, SLURM_V1, environ="YINGDU_WORK_REF=ignored\0")
    process(proc, 22, SLURM_V2)
    process(
        proc, 33, "0::/system.slice/slurmstepd.scope/job_9999/step_0\n", environ="YINGDU_WORK_REF=WR-env\0"
    )
    attributor = Attributor(proc_root=proc, slurm_job_dir=jobs)
    script = {
        "start": "2026-03-01T08:00:00+08:00",
        "interval": 15,
        "gpus": [{"uuid": f"GPU-{n}"} for n in range(3)],
        "ticks": [
            {"gpus": [{}, {}, {}]},
            {
                "repeat": 4,
                "gpus": [{"util": 80, "procs": [{"pid": pid, "mem_mib": 1000}]} for pid in (11, 22, 33)],
            },
        ],
    }
    records = {r["gpu_uuid"]: r for r in run_timeline(script, attributor, tmp_path)}
    v1, v2, unmapped = records["GPU-0"], records["GPU-1"], records["GPU-2"]
    assert (v1["work_ref"], v1["job_id"], v1["attribution"], v1["attribution_ref"]) == (
        "京剧备字2026003号", "1234", "slurm", "job_1234",
    )  # fmt: skip
    assert (v2["work_ref"], v2["scenario"], v2["attribution"]) == ("WR-5678", "finetune", "slurm")
    # A job the prolog did not map falls through to the process environment.
    assert (unmapped["work_ref"], unmapped["attribution"]) == ("WR-env", "environ")


def test_the_agent_command_attributes_through_the_kubelet(
    compiled: tuple[ModuleType, ModuleType, bytes], tmp_path: Path
) -> None:
    main(["keygen", "--key", str(tmp_path / "node.key")])
    timeline = {
        "start": "2026-03-01T08:00:00+08:00",
        "interval": 15,
        "gpus": [{"uuid": "GPU-0"}],
        "ticks": [
            {"gpus": [{}]},
            {"repeat": 4, "gpus": [{"util": 90, "procs": [{"pid": 4_000_000, "mem_mib": 100}]}]},
        ],
    }
    (tmp_path / "timeline.json").write_text(json.dumps(timeline))
    pods = {("studio", "render-a"): metadata("render-a", "京剧备字2026001号")}
    with (
        fake_kubelet(compiled, [("studio", "render-a", "main", ["GPU-0"])]) as socket,
        fake_api_server(pods) as api,
        running_sink() as sink,
    ):
        code = main(
            [
                "--backend", "fake", "--fake-timeline", str(tmp_path / "timeline.json"), "--server", sink.url,
                "--token", "tok", "--node-id", "k8s-node-1", "--key", str(tmp_path / "node.key"),
                "--spool", str(tmp_path / "spool"), "--kubelet-socket", str(socket), "--kube-api", api,
                "--metrics-port", "0", "--once", "--max-runtime", "30",
            ]
        )  # fmt: skip
    assert code == 0
    (record,) = sink.records
    assert (record["work_ref"], record["attribution"], record["attribution_ref"]) == (
        "京剧备字2026001号", "kubernetes", "studio/render-a/main",
    )  # fmt: skip
