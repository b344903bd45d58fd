"""The agent's own distribution: ``pip install ./agent`` on a node without the platform.

The package is built from a copy of ``agent/`` into a fresh virtual environment (no Django,
no platform packages), and the installed ``yingdu-agent`` command, run outside the source
tree, delivers signed records to a platform stand-in on loopback. Deselect with
``-m "not install"`` where no package index can be reached.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.signing import load_key, load_public_key, public_key_b64, verify_record
from agent.tests.sink import running_sink
from agent.tests.test_cli import write_timeline

pytestmark = pytest.mark.install

AGENT_DIR = Path(__file__).resolve().parents[1]
# What the distribution may depend on: NVML, the signing pair, Prometheus's client, and the
# optional gRPC pair for Kubernetes attribution.
EXPECTED_REQUIRES = {
    "nvidia-ml-py",
    "cryptography",
    "rfc8785",
    "prometheus-client",
    'grpcio; extra == "k8s"',
    'protobuf; extra == "k8s"',
}
# Everything the installed environment may hold: the above and what they pull in.
ALLOWED_DISTRIBUTIONS = {
    "yingdu-agent", "nvidia-ml-py", "cryptography", "cffi", "pycparser", "rfc8785",
    "prometheus-client", "pip", "setuptools", "wheel",
}  # fmt: skip


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("agent-install")
    source = root / "agent"
    shutil.copytree(
        AGENT_DIR, source, ignore=shutil.ignore_patterns("tests", "build", "*.egg-info", "__pycache__")
    )
    env_dir = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, timeout=120)
    subprocess.run(
        [
            str(env_dir / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            str(source),
        ],
        check=True,
        timeout=300,
        cwd=root,
    )
    return env_dir


def clean_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV")
    }


def inspect(venv: Path, tmp_path: Path) -> dict[str, Any]:
    script = (
        "import importlib, importlib.metadata as m, importlib.util as u, json, pkgutil, agent;"
        "modules = sorted(i.name for i in pkgutil.walk_packages(agent.__path__, 'agent.'));"
        "[importlib.import_module(name) for name in modules];"
        "print(json.dumps({'requires': m.requires('yingdu-agent'),"
        " 'dists': sorted(d.metadata['Name'].lower().replace('_', '-') for d in m.distributions()),"
        " 'django': u.find_spec('django') is not None, 'agent': agent.__file__, 'modules': modules}))"
    )
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script],
        cwd=tmp_path, env=clean_env(), capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def test_it_installs_with_only_its_own_dependencies(venv: Path, tmp_path: Path) -> None:
    found = inspect(venv, tmp_path)
    assert set(found["requires"]) == EXPECTED_REQUIRES
    assert set(found["dists"]) <= ALLOWED_DISTRIBUTIONS
    assert not found["django"]
    assert Path(found["agent"]).is_relative_to(venv)
    # Every module imports with these dependencies alone (the tests are not installed).
    assert {"agent.cli", "agent.kubernetes", "agent.npu", "agent.metrics", "agent.podresources"} <= set(
        found["modules"]
    )
    assert not any(name.startswith("agent.tests") for name in found["modules"])


def test_the_installed_command_delivers_signed_records(venv: Path, tmp_path: Path) -> None:
    command = str(venv / "bin" / "yingdu-agent")
    key = tmp_path / "node.key"
    subprocess.run(
        [command, "keygen", "--key", str(key)], cwd=tmp_path, env=clean_env(), check=True, timeout=60
    )
    timeline = write_timeline(tmp_path / "timeline.json", gpus=1, busy_ticks=8)
    with running_sink() as sink:
        done = subprocess.run(
            [
                command, "--backend", "fake", "--fake-timeline", str(timeline), "--server", sink.url,
                "--token", "tok", "--node-id", "hz-gpu-017", "--key", str(key),
                "--spool", str(tmp_path / "spool"), "--record-seconds", "60", "--once", "--max-runtime", "30",
            ],
            cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [r["gpu_seconds"] for r in sink.records] == [60, 60]
    public = load_public_key(public_key_b64(load_key(key)))
    assert all(verify_record(r, public) for r in sink.records)
