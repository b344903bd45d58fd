"""Kubernetes attribution: which pod's container was given a GPU or MIG instance, and its work reference.

The kubelet's pod-resources API (``/var/lib/kubelet/pod-resources/kubelet.sock``, gRPC
``v1.PodResourcesLister``) lists, per pod and container, the device ids the device plugin
handed out: ``GPU-<uuid>`` for a whole GPU, ``MIG-<uuid>`` for a MIG instance, and
``GPU-<uuid>::<n>`` for the n-th time-slicing replica of a GPU. The pod's annotations (or
labels, for values a label may hold) carry the work reference::

    yingdu.cn/work-ref: 京剧备字2026001号      (required)
    yingdu.cn/job-id, yingdu.cn/enterprise-uscc, yingdu.cn/scenario   (optional)

read from the API server (``GET /api/v1/namespaces/<ns>/pods/<name>``, the agent's service
account needs ``get`` on pods). When several pods time-share one GPU, a process is matched
to its pod by the pod UID in its cgroup path. The table is listed again every
``refresh_seconds``; a failing kubelet or API server keeps the last good answers.
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from agent.attribution import Labels, container_ids
from agent.podresources import ALLOCATABLE_METHOD, LIST_METHOD, messages

log = logging.getLogger("yingdu.agent")

KUBELET_SOCKET = "/var/lib/kubelet/pod-resources/kubelet.sock"
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
ANNOTATIONS = {
    "yingdu.cn/work-ref": "work_ref",
    "yingdu.cn/job-id": "job_id",
    "yingdu.cn/enterprise-uscc": "enterprise_uscc",
    "yingdu.cn/scenario": "scenario",
}


class KubernetesError(RuntimeError):
    """Kubernetes attribution cannot be set up (gRPC missing, bad socket path)."""


@dataclass(frozen=True)
class Assignment:
    """One device handed to one container."""

    namespace: str
    pod: str
    container: str
    resource: str
    device_id: str


def device_key(device_id: str) -> str:
    """The NVML UUID a device plugin id stands for (a time-slicing replica ``GPU-x::2`` is ``GPU-x``)."""
    return device_id.partition("::")[0]


class PodResourcesClient:
    """A gRPC client of the kubelet's pod-resources socket (needs the ``k8s`` extra: grpcio, protobuf)."""

    def __init__(self, socket_path: str | Path = KUBELET_SOCKET, timeout: float = 5.0) -> None:
        try:
            import grpc
        except ImportError as exc:
            raise KubernetesError(
                "Kubernetes attribution needs grpcio: pip install 'yingdu-agent[k8s]'"
            ) from exc
        types = messages()
        self.timeout = timeout
        self._types = types
        self._channel = grpc.insecure_channel(f"unix://{Path(socket_path)}")
        self._list = self._channel.unary_unary(
            LIST_METHOD,
            request_serializer=types["ListPodResourcesRequest"].SerializeToString,
            response_deserializer=types["ListPodResourcesResponse"].FromString,
        )
        self._allocatable = self._channel.unary_unary(
            ALLOCATABLE_METHOD,
            request_serializer=types["AllocatableResourcesRequest"].SerializeToString,
            response_deserializer=types["AllocatableResourcesResponse"].FromString,
        )

    def assignments(self) -> list[Assignment]:
        """Every device assigned to a container on this node (``List``)."""
        answer = self._list(self._types["ListPodResourcesRequest"](), timeout=self.timeout)
        return [
            Assignment(pod.namespace, pod.name, container.name, devices.resource_name, device_id)
            for pod in answer.pod_resources
            for container in pod.containers
            for devices in container.devices
            for device_id in devices.device_ids
        ]

    def allocatable(self) -> list[tuple[str, str]]:
        """``(resource name, device id)`` of every device the kubelet may hand out (``GetAllocatableResources``)."""
        answer = self._allocatable(self._types["AllocatableResourcesRequest"](), timeout=self.timeout)
        return [(d.resource_name, device_id) for d in answer.devices for device_id in d.device_ids]

    def close(self) -> None:
        self._channel.close()


class PodMetadata(Protocol):
    def get(self, namespace: str, pod: str) -> dict[str, Any]:
        """The pod object's ``metadata`` (``uid``, ``labels``, ``annotations``)."""


class ApiServerPods:
    """Pod metadata from the API server, in-cluster by default (service account token and CA)."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        token_file: str | Path | None = None,
        ca_file: str | Path | None = None,
        timeout: float = 5.0,
    ) -> None:
        if base_url is None:
            host, port = (
                os.environ.get("KUBERNETES_SERVICE_HOST"),
                os.environ.get("KUBERNETES_SERVICE_PORT", "443"),
            )
            if not host:
                raise KubernetesError("no API server: set --kube-api or run in a pod")
            base_url = f"https://{host}:{port}"
            token_file = token_file or SERVICE_ACCOUNT / "token"
            ca_file = ca_file or SERVICE_ACCOUNT / "ca.crt"
        if not base_url.startswith(("http://", "https://")):
            raise KubernetesError("the API server URL must be http:// or https://")
        self.base_url = base_url.rstrip("/")
        self.token_file = Path(token_file) if token_file else None
        self.timeout = timeout
        self._ssl = ssl.create_default_context(cafile=str(ca_file)) if ca_file else None

    def get(self, namespace: str, pod: str) -> dict[str, Any]:
        path = f"/api/v1/namespaces/{urllib.parse.quote(namespace)}/pods/{urllib.parse.quote(pod)}"
        headers = {"Accept": "application/json"}
        if self.token_file is not None:
            # Projected tokens rotate: read the file each time.
            headers["Authorization"] = f"Bearer {self.token_file.read_text().strip()}"
        request = urllib.request.Request(self.base_url + path, headers=headers)  # noqa: S310 - scheme checked
        with urllib.request.urlopen(request, timeout=self.timeout, context=self._ssl) as response:  # noqa: S310
            data = json.loads(response.read())
        metadata = data.get("metadata") if isinstance(data, dict) else None
        return metadata if isinstance(metadata, dict) else {}


def labels_from_metadata(metadata: dict[str, Any], attribution_ref: str) -> Labels | None:
    """The job label a pod's annotations (first) or labels carry; ``None`` without a work reference."""
    values: dict[str, str] = {}
    for source in (metadata.get("labels") or {}, metadata.get("annotations") or {}):
        if isinstance(source, dict):
            for key, field in ANNOTATIONS.items():
                if isinstance(source.get(key), str) and source[key].strip():
                    values[field] = source[key]
    if not values.get("work_ref"):
        return None
    values.setdefault("job_id", attribution_ref.rsplit("/", 1)[0])
    return Labels.from_mapping(values, attributed_by="kubernetes", attribution_ref=attribution_ref)


class KubernetesAttribution:
    """Answers ``Attributor``'s question for Kubernetes: the labels of the pod given a device."""

    def __init__(
        self,
        client: PodResourcesClient,
        pods: PodMetadata,
        *,
        refresh_seconds: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.pods = pods
        self.refresh_seconds = refresh_seconds
        self.monotonic = monotonic
        self._by_device: dict[str, list[Assignment]] = {}
        self._metadata: dict[tuple[str, str], dict[str, Any]] = {}
        self._listed_at: float | None = None

    def _refresh(self) -> None:
        now = self.monotonic()
        if self._listed_at is not None and now - self._listed_at < self.refresh_seconds:
            return
        self._listed_at = now
        try:
            assignments = self.client.assignments()
        except Exception as exc:  # noqa: BLE001 - any gRPC failure: keep the last good table
            log.warning("kubelet pod-resources: %s", exc)
            return
        table: dict[str, list[Assignment]] = {}
        for item in assignments:
            table.setdefault(device_key(item.device_id), []).append(item)
        self._by_device = table
        live = {(a.namespace, a.pod) for a in assignments}
        self._metadata = {k: v for k, v in self._metadata.items() if k in live}

    def _meta(self, item: Assignment) -> dict[str, Any] | None:
        key = (item.namespace, item.pod)
        if key not in self._metadata:
            try:
                self._metadata[key] = self.pods.get(item.namespace, item.pod)
            except (OSError, ValueError, urllib.error.URLError) as exc:
                log.warning("pod %s/%s: %s", item.namespace, item.pod, exc)
                return None
        return self._metadata[key]

    def labels_for(self, device_uuid: str, cgroup_text: str) -> Labels | None:
        self._refresh()
        candidates = self._by_device.get(device_uuid, [])
        if len({(a.namespace, a.pod) for a in candidates}) > 1:
            # Time-sliced: the pod whose UID is in the process's cgroup path.
            uids = set(container_ids(cgroup_text))
            candidates = [a for a in candidates if (self._meta(a) or {}).get("uid") in uids]
        if len({(a.namespace, a.pod) for a in candidates}) != 1:
            return None
        item = candidates[0]
        metadata = self._meta(item)
        if metadata is None:
            return None
        return labels_from_metadata(metadata, f"{item.namespace}/{item.pod}/{item.container}")
