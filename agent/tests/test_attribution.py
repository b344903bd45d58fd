from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.attribution import Attributor, Labels, container_ids, parse_environ

CONTAINER = "4f2e" * 16


def _process(
    root: Path, pid: int, *, environ: dict[str, str] | None = None, cgroup: str = "", start: int = 100
) -> None:
    folder = root / str(pid)
    folder.mkdir(parents=True, exist_ok=True)
    fields = ["S"] + ["0"] * 18 + [str(start)] + ["0"] * 10
    (folder / "stat").write_text(f"{pid} (python train.py) " + " ".join(fields))
    env = {"PATH": "/usr/bin", **(environ or {})}
    (folder / "environ").write_bytes(b"\0".join(f"{k}={v}".encode() for k, v in env.items()) + b"\0")
    (folder / "cgroup").write_text(cgroup)


def test_a_job_is_labelled_by_its_environment(tmp_path: Path) -> None:
    _process(
        tmp_path,
        41,
        environ={
            "YINGDU_WORK_REF": "WR-1",
            "YINGDU_JOB_ID": "j-7",
            "YINGDU_ENTERPRISE_USCC": "91110000600037341l",
        },
    )
    labels = Attributor(proc_root=tmp_path).labels_for(41)
    assert labels == Labels(
        work_ref="WR-1", job_id="j-7", enterprise_uscc="91110000600037341L", attributed_by="environ"
    )


def test_a_process_without_a_label_is_not_attributed(tmp_path: Path) -> None:
    _process(tmp_path, 42)
    assert Attributor(proc_root=tmp_path).labels_for(42) is None
    assert Attributor(proc_root=tmp_path).labels_for(999) is None


def test_a_container_is_labelled_through_the_labels_file(tmp_path: Path) -> None:
    _process(tmp_path / "proc", 43, cgroup=f"0::/system.slice/docker-{CONTAINER}.scope\n")
    labels_file = tmp_path / "labels.json"
    labels_file.write_text(
        json.dumps({CONTAINER[:12]: {"YINGDU_WORK_REF": "WR-2", "YINGDU_SCENARIO": "render"}})
    )
    labels = Attributor(proc_root=tmp_path / "proc", labels_file=labels_file).labels_for(43)
    assert labels == Labels(
        work_ref="WR-2", scenario="render", attributed_by="labels_file", attribution_ref=CONTAINER[:12]
    )


def test_a_reused_pid_is_looked_up_again(tmp_path: Path) -> None:
    attributor = Attributor(proc_root=tmp_path)
    _process(tmp_path, 44, environ={"YINGDU_WORK_REF": "WR-old"}, start=100)
    assert attributor.labels_for(44).work_ref == "WR-old"  # type: ignore[union-attr]
    _process(tmp_path, 44, environ={"YINGDU_WORK_REF": "WR-new"}, start=200)
    assert attributor.labels_for(44).work_ref == "WR-new"  # type: ignore[union-attr]


def test_environment_parsing_keeps_only_yingdu_variables() -> None:
    raw = b"HOME=/root\0YINGDU_WORK_REF=\xe4\xba\xac-1\0YINGDU_OTHER=x\0"
    assert parse_environ(raw) == {"YINGDU_WORK_REF": "京-1"}


def test_container_ids_and_pod_uids_are_found_in_cgroup_paths() -> None:
    text = (
        "0::/kubepods.slice/kubepods-pod1b2c3d4e_1111_2222_3333_444455556666.slice/"
        f"cri-containerd-{CONTAINER}.scope\n"
    )
    assert container_ids(text) == [CONTAINER, "1b2c3d4e-1111-2222-3333-444455556666"]


def test_a_label_needs_a_work_reference() -> None:
    with pytest.raises(ValueError):
        Labels.from_mapping({"YINGDU_JOB_ID": "x"})
