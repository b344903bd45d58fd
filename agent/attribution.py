"""Attributing GPU processes to jobs (docs/monitoring.md): which work a process's GPU time belongs to.

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
from typing import Any

ENV_KEYS = {
    "YINGDU_WORK_REF": "work_ref",
    "YINGDU_JOB_ID": "job_id",
    "YINGDU_ENTERPRISE_USCC": "enterprise_uscc",
    "YINGDU_SCENARIO": "scenario",
}

_CONTAINER_ID = re.compile(r"[0-9a-f]{64}")
_POD_UID = re.compile(r"pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})")


@dataclass(frozen=True)
class Labels:
    """The job a process belongs to; ``work_ref`` is what subsidy claims are matched on."""

    work_ref: str
    job_id: str = ""
    enterprise_uscc: str = ""
    scenario: str = ""

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Labels:
        """Accept either environment names (``YINGDU_WORK_REF``) or field names (``work_ref``)."""
        fields = {ENV_KEYS.get(str(k), str(k)): str(v).strip() for k, v in values.items() if v is not None}
        if not fields.get("work_ref"):
            raise ValueError("a job label needs YINGDU_WORK_REF")
        return cls(
            work_ref=fields["work_ref"],
            job_id=fields.get("job_id", ""),
            enterprise_uscc=fields.get("enterprise_uscc", "").upper(),
            scenario=fields.get("scenario", ""),
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


class Attributor:
    """Finds the ``Labels`` of a process, caching per (pid, start time) so reused pids are not confused."""

    def __init__(self, proc_root: str | Path = "/proc", labels_file: str | Path | None = None) -> None:
        self.proc_root = Path(proc_root)
        self.labels_file = Path(labels_file) if labels_file else None
        self._cache: dict[int, tuple[str, Labels | None]] = {}
        self._file_labels: dict[str, Labels] = {}
        self._file_mtime: float | None = None

    def labels_for(self, pid: int) -> Labels | None:
        start = self._start_time(pid)
        cached = self._cache.get(pid)
        if cached is not None and cached[0] == start:
            return cached[1]
        labels = self._from_environ(pid) or self._from_container(pid)
        # An unreadable process (already gone) is not cached, so it is retried next time.
        if start:
            self._cache[pid] = (start, labels)
        return labels

    def forget_except(self, live_pids: set[int]) -> None:
        for pid in list(self._cache):
            if pid not in live_pids:
                del self._cache[pid]

    def _start_time(self, pid: int) -> str:
        try:
            stat = (self.proc_root / str(pid) / "stat").read_text()
        except OSError:
            return ""
        # Field 22 (starttime), counted after the parenthesised command name, which may contain spaces.
        fields = stat.rpartition(")")[2].split()
        return fields[19] if len(fields) > 19 else ""

    def _from_environ(self, pid: int) -> Labels | None:
        try:
            raw = (self.proc_root / str(pid) / "environ").read_bytes()
        except OSError:
            return None
        env = parse_environ(raw)
        if not env.get("YINGDU_WORK_REF"):
            return None
        return Labels.from_mapping(env)

    def _from_container(self, pid: int) -> Labels | None:
        if self.labels_file is None:
            return None
        try:
            text = (self.proc_root / str(pid) / "cgroup").read_text()
        except OSError:
            return None
        table = self._load_labels_file()
        for cid in container_ids(text):
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
                    table[str(key).lower()] = Labels.from_mapping(values)
            self._file_labels = table
            self._file_mtime = mtime
            self._cache.clear()
        return self._file_labels
