"""The deployment files: the DaemonSet gives the agent what it needs, the Slurm prolog's files are what it reads."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from agent.attribution import Attributor
from agent.tests.test_job_attribution import SLURM_V2, process

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_the_daemonset_runs_the_agent_with_host_pids_the_socket_read_only_and_the_spool_on_the_node() -> None:
    documents = list(yaml.safe_load_all((DEPLOY / "agent-daemonset.yaml").read_text()))
    (daemonset,) = [d for d in documents if d["kind"] == "DaemonSet"]
    pod = daemonset["spec"]["template"]["spec"]
    assert pod["hostPID"] is True
    (agent,) = pod["containers"]
    mounts = {m["name"]: m for m in agent["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert mounts["pod-resources"]["readOnly"] is True
    assert volumes["pod-resources"]["hostPath"]["path"] == "/var/lib/kubelet/pod-resources"
    assert (
        volumes[mounts["spool"]["name"]]["hostPath"]["path"]
        == mounts["spool"]["mountPath"]
        == "/var/lib/yingdu-agent"
    )
    assert "--kubelet-socket=/var/lib/kubelet/pod-resources/kubelet.sock" in agent["args"]
    assert "--spool=/var/lib/yingdu-agent" in agent["args"]
    (role,) = [d for d in documents if d["kind"] == "ClusterRole"]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]


def test_the_container_recipe_installs_the_agent_alone() -> None:
    recipe = (DEPLOY / "agent.Containerfile").read_text()
    assert "pip install '/src/agent[k8s]'" in recipe
    assert 'ENTRYPOINT ["yingdu-agent"]' in recipe


def test_the_slurm_prologs_job_file_attributes_the_jobs_processes(tmp_path: Path) -> None:
    bin_dir, jobs, proc = tmp_path / "bin", tmp_path / "jobs", tmp_path / "proc"
    bin_dir.mkdir()
    scontrol = bin_dir / "scontrol"
    # What `scontrol show job -o` prints, shortened.
    scontrol.write_text(
        "#!/bin/sh\necho 'JobId=5678 JobName=train UserId=ai(1000) Comment=yingdu:京剧备字2026004号:91110000600037341L"
        " JobState=RUNNING'\n"
    )
    scontrol.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "SLURM_JOB_ID": "5678",
        "YINGDU_SLURM_JOB_DIR": str(jobs),
    }
    subprocess.run(["sh", str(DEPLOY / "slurm-prolog.sh")], env=env, check=True, timeout=30)
    process(proc, 22, SLURM_V2)
    labels = Attributor(proc_root=proc, slurm_job_dir=jobs).labels_for(22, "GPU-0")
    assert labels is not None
    assert (labels.work_ref, labels.enterprise_uscc, labels.job_id, labels.attributed_by) == (
        "京剧备字2026004号", "91110000600037341L", "5678", "slurm",
    )  # fmt: skip
    subprocess.run(["sh", str(DEPLOY / "slurm-epilog.sh")], env=env, check=True, timeout=30)
    assert list(jobs.iterdir()) == []
