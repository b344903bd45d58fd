"""Real witness processes on loopback for the platform's tests, and a 2-of-2 policy naming them."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from django.test import TestCase

from ledger import keys, witnessing

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class WitnessProcess:
    """``yingdu-witness serve`` as its own process, trusting the platform's checkpoint key."""

    def __init__(self, state: Path, name: str, port: int) -> None:
        self.state, self.name, self.port = state, name, port
        self.proc: subprocess.Popen[str] | None = None
        self.vkey = subprocess.run(
            [sys.executable, "-m", "witness", "key", "--state", str(state), "--name", name],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        ).stdout.strip()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "witness",
                "serve",
                "--state",
                str(self.state),
                "--name",
                self.name,
                "--log",
                keys.verifier_key(),
                "--listen",
                f"127.0.0.1:{self.port}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=REPO,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().startswith("listening ")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


def two_witnesses(case: TestCase, start: bool = False) -> list[WitnessProcess]:
    """Two witnesses (not started unless ``start``) and a loaded policy needing both; stopped after the test."""
    tmp = Path(case.enterContext(tempfile.TemporaryDirectory()))
    witnesses = [WitnessProcess(tmp / n, f"{n}.witness.test", free_port()) for n in ("w1", "w2")]
    for w in witnesses:
        case.addCleanup(w.stop)
        if start:
            w.start()
    policy = "".join(f"witness {w.name} {w.vkey} {w.url}\n" for w in witnesses)
    policy += f"group both all {' '.join(w.name for w in witnesses)}\nquorum both\n"
    witnessing.load_policy(policy, actor=None, actor_repr="test")
    return witnesses
