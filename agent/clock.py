"""Is this node's clock synchronised? Records state it, and the agent signs only with a trusted clock.

A probe answers ``ClockState``: synchronised or not (``None``: cannot tell) and the kernel's
bound on the clock's error. ``adjtimex`` asks the kernel's NTP state directly (what chrony,
ntpd and systemd-timesyncd all set; no privileges, no subprocess); ``timedatectl`` asks
systemd. ``ClockPolicy`` decides whether records may be signed now: not while the clock is
known to be unsynchronised beyond the bound (``--clock-max-error-ms``); such records wait
unsigned in the spool and are signed once the clock is back (docs/monitoring.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import shutil
import subprocess
from dataclasses import dataclass
from typing import Protocol

SYNCHRONIZED = "synchronized"
UNSYNCHRONIZED = "unsynchronized"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class ClockState:
    synchronized: bool | None
    max_error_ms: int | None = None
    source: str = ""

    @property
    def label(self) -> str:
        """What records carry in ``clock_sync``."""
        if self.synchronized is None:
            return UNKNOWN
        return SYNCHRONIZED if self.synchronized else UNSYNCHRONIZED


class ClockProbe(Protocol):
    def read(self) -> ClockState: ...


class NoProbe:
    """No clock information (a scripted timeline keeps its own time)."""

    def read(self) -> ClockState:
        return ClockState(None, None, "none")


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    # struct timex of <sys/timex.h> (Linux), read with modes = 0.
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("padding", ctypes.c_int * 11),
    ]


TIME_ERROR = 5
STA_UNSYNC = 0x0040


def timex_state(result: int, status: int, maxerror_us: int) -> ClockState:
    """The state ``adjtimex`` reports: unsynchronised when it returns TIME_ERROR or sets STA_UNSYNC."""
    synchronized = result != TIME_ERROR and not status & STA_UNSYNC
    return ClockState(synchronized, max(0, maxerror_us) // 1000, "adjtimex")


class AdjtimexProbe:
    """The kernel's NTP state through ``adjtimex(2)`` with no modes set (read only)."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("c")
        self._libc = ctypes.CDLL(name, use_errno=True) if name else None

    def read(self) -> ClockState:
        if self._libc is None:
            return ClockState(None, None, "adjtimex")
        timex = _Timex()
        result = int(self._libc.adjtimex(ctypes.byref(timex)))
        if result < 0:
            return ClockState(None, None, "adjtimex")
        return timex_state(result, timex.status, timex.maxerror)


class TimedatectlProbe:
    """systemd's view: ``timedatectl show -p NTPSynchronized --value`` (no error bound)."""

    def read(self) -> ClockState:
        command = shutil.which("timedatectl")
        if command is None:
            return ClockState(None, None, "timedatectl")
        try:
            out = subprocess.run(  # noqa: S603 - a fixed command found on PATH
                [command, "show", "-p", "NTPSynchronized", "--value"],
                capture_output=True, text=True, timeout=5, check=False,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired):
            return ClockState(None, None, "timedatectl")
        answer = out.stdout.strip()
        synchronized = {"yes": True, "no": False}.get(answer)
        return ClockState(synchronized, None, "timedatectl")


PROBES: dict[str, type[AdjtimexProbe] | type[TimedatectlProbe] | type[NoProbe]] = {
    "adjtimex": AdjtimexProbe,
    "timedatectl": TimedatectlProbe,
    "none": NoProbe,
}


@dataclass(frozen=True)
class ClockPolicy:
    """Records are signed unless the clock is known to be unsynchronised beyond ``max_error_ms``."""

    max_error_ms: int = 1000

    def may_sign(self, state: ClockState) -> bool:
        if state.synchronized is None:
            return True
        if state.max_error_ms is not None and state.max_error_ms > self.max_error_ms:
            return False
        return state.synchronized or state.max_error_ms is not None
