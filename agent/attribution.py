"""Attributing GPU processes to jobs (docs/monitoring.md): which work a process's GPU time belongs to.

Sources are tried in this order, and the first that knows the process wins; the record
names which one it was (``attribution``) and what it found (``attribution_ref``):

1. Kubernetes (``agent.kubernetes``): the kubelet's pod-resources API says which pod's
   container was given the GPU or MIG instance; the pod's annotations (or labels) carry
   ``yingdu.cn/work-ref`` and the other keys.
2. Slurm: the job id in the process's cgroup path (``…/job_1234/…``, cgroup v1 and v2) is
   looked up in a directory of job files that the Slurm prolog writes (``<dir>/1234``, with
   ``YINGDU_WORK_REF=…`` lines or a JSON object) and the epilog removes.
3. The process environment, below.
4. The labels file, below.

A job carries its label in its environment::

    YINGDU_WORK_REF=<filing number or application id>    (required)
    YINGDU_JOB_ID, YINGDU_ENTERPRISE_USCC, YINGDU_SCENARIO (optional)

read from ``/proc/<pid>/environ`` (the agent runs as root). A containerised job whose
environment cannot be read (another PID namespace, a hardened runtime) can be labelled
by its container: the container id (or Kubernetes pod UID) found in
``/proc/<pid>/cgroup`` is looked up in a labels file, a JSON object
``{"<container id or pod uid>": {"YINGDU_WORK_REF": "…", …}}`` that the provider's
scheduler or a ``docker inspect`` hook keeps current.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

ENV_KEYS = {
    "YINGDU_WORK_REF": "work_ref",
    "YINGDU_JOB_ID": "job_id",
    "YINGDU_ENTERPRISE_USCC": "enterprise_uscc",
    "YINGDU_SCENARIO": "scenario",
}

_SLURM_JOB = re.compile(r"/job_(\d+)(?:/|$)", re.MULTILINE)
_CONTAINER_ID = re.compile(r"[0-9a-f]{64}")
_POD_UID = re.compile(r"pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})")


@dataclass(frozen=True)
class Labels:
    """The job a process belongs to; ``work_ref`` is what subsidy claims are matched on."""

    work_ref: str
    job_id: str = ""
    enterprise_uscc: str = ""
    scenario: str = ""
    # How the process was attributed (kubernetes, slurm, environ, labels_file) and to what
    # (namespace/pod/container, the Slurm job id, the container id); recorded with the usage.
    attributed_by: str = ""
    attribution_ref: str = ""

    @classmethod
    def from_mapping(
        cls, values: Mapping[str, Any], *, attributed_by: str = "", attribution_ref: str = ""
    ) -> Labels:
        """Accept either environment names (``YINGDU_WORK_REF``) or field names (``work_ref``)."""
        fields = {ENV_KEYS.get(str(k), str(k)): str(v).strip() for k, v in values.items() if v is not None}
        if not fields.get("work_ref"):
            raise ValueError("a job label needs YINGDU_WORK_REF")
        return cls(
            work_ref=fields["work_ref"],
            job_id=fields.get("job_id", ""),
            enterprise_uscc=fields.get("enterprise_uscc", "").upper(),
            scenario=fields.get("scenario", ""),
            attributed_by=attributed_by,
            attribution_ref=attribution_ref[:200],
        )


def parse_environ(raw: bytes) -> dict[str, str]:
    """The YINGDU_* variables of a NUL-separated ``/proc/<pid>/environ``."""
    found: dict[str, str] = {}
    for item in raw.split(b"\0"):
        if item.startswith(b"YINGDU_") and b"=" in item:
            name, _, value = item.partition(b"=")
            key = name.decode("ascii", "replace")
            if key in ENV_KEYS:
                found[key] = value.decode("utf-8", "replace")
    return found


def container_ids(cgroup_text: str) -> list[str]:
    """Container ids and pod UIDs (dashed) named in a ``/proc/<pid>/cgroup`` file, most specific first."""
    ids = list(dict.fromkeys(_CONTAINER_ID.findall(cgroup_text)))
    ids += [uid.replace("_", "-") for uid in dict.fromkeys(_POD_UID.findall(cgroup_text))]
    return ids


def slurm_job_id(cgroup_text: str) -> str:
    """The Slurm job id in a ``/proc/<pid>/cgroup`` file (v1 ``…/slurm/uid_N/job_N/…``, v2 ``…/job_N/…``)."""
    match = _SLURM_JOB.search(cgroup_text)
    return match.group(1) if match else ""


def parse_job_file(text: str) -> dict[str, str]:
    """A prolog's job file: a JSON object, or ``KEY=VALUE`` lines (``#`` comments, optional quotes)."""
    stripped = text.strip()
    if stripped.startswith("{"):
        data = json.loads(stripped)
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    values: dict[str, str] = {}
    for line in stripped.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


class PodDevices(Protocol):
    """What a Kubernetes source answers: the labels of the pod given ``device_uuid`` (see agent.kubernetes)."""

    def labels_for(self, device_uuid: str, cgroup_text: str) -> Labels | None: ...


class Attributor:
    """Finds the ``Labels`` of a process on a device, caching per (pid, start time, device).

    Reused pids are not confused: a cached answer holds only while the pid's start time is the same.
    """

    def __init__(
        self,
        proc_root: str | Path = "/proc",
        labels_file: str | Path | None = None,
        *,
        kubernetes: PodDevices | None = None,
        slurm_job_dir: str | Path | None = None,
    ) -> None:
        self.proc_root = Path(proc_root)
        self.labels_file = Path(labels_file) if labels_file else None
        self.kubernetes = kubernetes
        self.slurm_job_dir = Path(slurm_job_dir) if slurm_job_dir else None
        self._cache: dict[tuple[int, str], tuple[str, Labels | None]] = {}
        self._file_labels: dict[str, Labels] = {}
        self._file_mtime: float | None = None

    def labels_for(self, pid: int, device_uuid: str = "") -> Labels | None:
        start = self._start_time(pid)
        cached = self._cache.get((pid, device_uuid))
        if cached is not None and cached[0] == start:
            return cached[1]
        cgroup = self._cgroup(pid)
        labels = (
            self._from_kubernetes(device_uuid, cgroup)
            or self._from_slurm(cgroup)
            or self._from_environ(pid)
            or self._from_container(cgroup)
        )
        # An unreadable process (already gone) is not cached, so it is retried next time.
        if start:
            self._cache[(pid, device_uuid)] = (start, labels)
        return labels

    def forget_except(self, live_pids: set[int]) -> None:
        for key in list(self._cache):
            if key[0] not in live_pids:
                del self._cache[key]

    def _start_time(self, pid: int) -> str:
        try:
            stat = (self.proc_root / str(pid) / "stat").read_text()
        except OSError:
            return ""
        # Field 22 (starttime), counted after the parenthesised command name, which may contain spaces.
        fields = stat.rpartition(")")[2].split()
        return fields[19] if len(fields) > 19 else ""

    def _cgroup(self, pid: int) -> str:
        try:
            return (self.proc_root / str(pid) / "cgroup").read_text()
        except OSError:
            return ""

    def _from_kubernetes(self, device_uuid: str, cgroup: str) -> Labels | None:
        if self.kubernetes is None or not device_uuid:
            return None
        return self.kubernetes.labels_for(device_uuid, cgroup)

    def _from_slurm(self, cgroup: str) -> Labels | None:
        if self.slurm_job_dir is None:
            return None
        job = slurm_job_id(cgroup)
        if not job:
            return None
        try:
            values = parse_job_file((self.slurm_job_dir / job).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        values.setdefault("YINGDU_JOB_ID", job)
        try:
            return Labels.from_mapping(values, attributed_by="slurm", attribution_ref=f"job_{job}")
        except ValueError:
            return None

    def _from_environ(self, pid: int) -> Labels | None:
        try:
            raw = (self.proc_root / str(pid) / "environ").read_bytes()
        except OSError:
            return None
        env = parse_environ(raw)
        if not env.get("YINGDU_WORK_REF"):
            return None
        return Labels.from_mapping(env, attributed_by="environ")

    def _from_container(self, cgroup: str) -> Labels | None:
        if self.labels_file is None or not cgroup:
            return None
        table = self._load_labels_file()
        for cid in container_ids(cgroup):
            for key, labels in table.items():
                # Short ids (docker ps shows 12 characters) match as prefixes.
                if cid == key or (len(key) >= 12 and cid.startswith(key)):
                    return labels
        return None

    def _load_labels_file(self) -> dict[str, Labels]:
        assert self.labels_file is not None
        try:
            mtime = self.labels_file.stat().st_mtime
        except OSError:
            return self._file_labels
        if mtime != self._file_mtime:
            try:
                data = json.loads(self.labels_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return self._file_labels  # keep the last good table; a half-written file is retried
            table: dict[str, Labels] = {}
            for key, values in data.items() if isinstance(data, dict) else []:
                if isinstance(values, Mapping) and values.get("YINGDU_WORK_REF", values.get("work_ref")):
                    table[str(key).lower()] = Labels.from_mapping(
                        values, attributed_by="labels_file", attribution_ref=str(key).lower()
                    )
            self._file_labels = table
            self._file_mtime = mtime
            self._cache.clear()
        return self._file_labels
