"""The agent's durable spool: signed records wait here until the platform acknowledges them.

Layout under the spool directory::

    pending/<ns>-<record_id>.json   one signed record per file, oldest first by name
    unsigned/<ns>-<record_id>.json  closed while the clock was unsynchronised; signed (and moved
                                    to pending/) once it is synchronised again
    rejected/<ns>-<record_id>.json  {"record", "reason", "rejected_at"}; never sent again
    tmp/                            files being written
    state.json                      per-GPU end of the last closed record (see Collector)

Every write is: write to ``tmp/``, fsync the file, rename into place, fsync the directory.
A rename is atomic, so after a crash (even SIGKILL or power loss) every file in
``pending/`` is a complete record, and a record leaves ``pending/`` only by ``ack``
(the platform answered accepted or duplicate) or ``reject`` (it answered rejected).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

UNSIGNED_TMP = ".unsigned-tmp"


@dataclass(frozen=True)
class SpoolEntry:
    path: Path
    record: dict[str, Any]

    @property
    def record_id(self) -> str:
        return str(self.record.get("record_id", ""))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durable(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """A directory of records waiting for acknowledgement; safe for one writer and one sender thread."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.pending_dir = self.root / "pending"
        self.unsigned_dir = self.root / "unsigned"
        self.rejected_dir = self.root / "rejected"
        self.tmp_dir = self.root / "tmp"
        self.state_path = self.root / "state.json"
        for folder in (self.root, self.pending_dir, self.unsigned_dir, self.rejected_dir, self.tmp_dir):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    # -- startup -----------------------------------------------------------------------------

    def recover(self) -> int:
        """Finish what a crash interrupted; returns how many records were moved into ``pending/``.

        A temp file that parses is a record whose fsync completed but whose rename did not
        (``put_many`` saves the state before renaming, so that record is already counted as
        closed and must not be lost); anything else is a torn write and is removed.
        """
        moved = 0
        for path in sorted(self.tmp_dir.iterdir()):
            folder = self.unsigned_dir if path.name.endswith(UNSIGNED_TMP) else self.pending_dir
            target = folder / path.name.removesuffix(UNSIGNED_TMP).removesuffix(".tmp")
            try:
                record = json.loads(path.read_bytes())
            except (ValueError, OSError):
                record = None
            complete = path.name.endswith((".json.tmp", ".json" + UNSIGNED_TMP))
            if complete and isinstance(record, dict) and "record_id" in record:
                os.replace(path, target)
                moved += 1
            else:
                path.unlink(missing_ok=True)
        _fsync_dir(self.pending_dir)
        _fsync_dir(self.unsigned_dir)
        _fsync_dir(self.tmp_dir)
        return moved

    # -- writing -----------------------------------------------------------------------------

    def put_many(
        self,
        records: Iterable[Mapping[str, Any]],
        state: Mapping[str, Any] | None = None,
        *,
        unsigned: bool = False,
    ) -> int:
        """Durably add signed records (and, atomically before they become visible, the new state).

        ``unsigned`` puts them in ``unsigned/`` instead, to be signed later.
        """
        folder, suffix = (self.unsigned_dir, UNSIGNED_TMP) if unsigned else (self.pending_dir, ".tmp")
        staged: list[tuple[Path, Path]] = []
        for record in records:
            name = f"{time.time_ns():020d}-{record['record_id']}.json"
            tmp = self.tmp_dir / (name + suffix)
            _write_durable(tmp, json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode())
            staged.append((tmp, folder / name))
        if state is not None:
            self.save_state(state)
        for tmp, target in staged:
            os.replace(tmp, target)
        if staged:
            _fsync_dir(folder)
        return len(staged)

    def unsigned(self) -> list[SpoolEntry]:
        """Records waiting for a synchronised clock to be signed, oldest first."""
        entries = []
        for name in sorted(os.listdir(self.unsigned_dir)):
            if name.endswith(".json"):
                with contextlib.suppress(FileNotFoundError, ValueError):
                    entries.append(
                        SpoolEntry(
                            self.unsigned_dir / name, json.loads((self.unsigned_dir / name).read_bytes())
                        )
                    )
        return entries

    def unsigned_count(self) -> int:
        return sum(1 for name in os.listdir(self.unsigned_dir) if name.endswith(".json"))

    def drop_unsigned(self, entries: list[SpoolEntry]) -> None:
        """Remove unsigned entries whose signed versions are now in ``pending/``.

        A crash just before leaves both; signing again gives the identical record (the id comes
        from the content and Ed25519 is deterministic), which the platform answers as a duplicate.
        """
        for entry in entries:
            entry.path.unlink(missing_ok=True)
        if entries:
            _fsync_dir(self.unsigned_dir)

    def save_state(self, state: Mapping[str, Any]) -> None:
        tmp = self.tmp_dir / "state.json.partial"
        _write_durable(tmp, json.dumps(state, sort_keys=True).encode())
        os.replace(tmp, self.state_path)
        _fsync_dir(self.root)

    def load_state(self) -> dict[str, Any]:
        try:
            state = json.loads(self.state_path.read_bytes())
        except FileNotFoundError:
            return {}
        return state if isinstance(state, dict) else {}

    # -- reading -----------------------------------------------------------------------------

    def pending(self, limit: int | None = None) -> list[SpoolEntry]:
        """Pending records, oldest first; unreadable files are moved to ``rejected/``."""
        entries: list[SpoolEntry] = []
        for name in sorted(os.listdir(self.pending_dir)):
            if not name.endswith(".json"):
                continue
            path = self.pending_dir / name
            try:
                record = json.loads(path.read_bytes())
            except FileNotFoundError:
                continue
            except ValueError:
                self._move_unreadable(path)
                continue
            entries.append(SpoolEntry(path, record))
            if limit is not None and len(entries) >= limit:
                break
        return entries

    def pending_count(self) -> int:
        return sum(1 for name in os.listdir(self.pending_dir) if name.endswith(".json"))

    def rejected_count(self) -> int:
        return sum(1 for name in os.listdir(self.rejected_dir) if name.endswith(".json"))

    def rejected(self) -> list[dict[str, Any]]:
        out = []
        for name in sorted(os.listdir(self.rejected_dir)):
            if name.endswith(".json"):
                with contextlib.suppress(ValueError, OSError):
                    out.append(json.loads((self.rejected_dir / name).read_bytes()))
        return out

    # -- acknowledgement ---------------------------------------------------------------------

    def ack(self, entries: Iterable[SpoolEntry]) -> int:
        """Remove records the platform acknowledged (accepted or duplicate)."""
        removed = 0
        for entry in entries:
            try:
                entry.path.unlink()
                removed += 1
            except FileNotFoundError:
                pass
        if removed:
            _fsync_dir(self.pending_dir)
        return removed

    def reject(self, entry: SpoolEntry, reason: str) -> None:
        """Keep a record the platform refused, with the reason, out of the send queue for good."""
        body = {
            "record": entry.record,
            "reason": reason,
            "rejected_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        tmp = self.tmp_dir / (entry.path.name + ".rejected")
        _write_durable(tmp, json.dumps(body, ensure_ascii=False, indent=1).encode())
        os.replace(tmp, self.rejected_dir / entry.path.name)
        _fsync_dir(self.rejected_dir)
        entry.path.unlink(missing_ok=True)
        _fsync_dir(self.pending_dir)

    def _move_unreadable(self, path: Path) -> None:
        body = {
            "record": None,
            "reason": "unreadable spool file",
            "raw": path.read_bytes().decode("utf-8", "replace"),
        }
        target = self.rejected_dir / path.name
        _write_durable(target, json.dumps(body, ensure_ascii=False).encode())
        _fsync_dir(self.rejected_dir)
        path.unlink(missing_ok=True)
