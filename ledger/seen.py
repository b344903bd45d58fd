"""The latest checkpoint kept outside the database, so a rolled-back or truncated log is seen.

Someone who can write the database could delete the newest checkpoints and the entries after
an older one, and put the log state back: everything left would still verify. So each
checkpoint the platform signs is also written to a file beside the signing key
(``LEDGER_CHECKPOINT_PATH``), replaced only by a checkpoint of the same log that is larger;
``yingdu ledger verify`` reads it (and any exported ``checkpoint`` named with ``--seen``)
before it opens its snapshot, and refuses a log shorter than any of them, a root that
differs at that size, or a database that lacks the checkpoint the file holds.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)

_HEADER = "yingdu ledger checkpoint"
_lock = threading.Lock()
_written: dict[str, tuple[str, int]] = {}  # path -> (log id, size) last written by this process


@dataclass(frozen=True)
class Seen:
    """A checkpoint note kept outside the database: where, for which log (if known), the note."""

    where: str
    log_id: str | None
    note: str


def checkpoint_path() -> Path | None:
    path = getattr(settings, "LEDGER_CHECKPOINT_PATH", "")
    return Path(path) if path else None


def _read(path: Path) -> Seen | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    if text.startswith(_HEADER + "\n"):
        _header, log_line, note = text.split("\n", 2)
        return Seen(str(path), log_line.removeprefix("log ").strip() or None, note)
    return Seen(str(path), None, text)  # an exported ``checkpoint`` (a signed note alone)


def _size_of(note: str) -> int:
    lines = note.split("\n")
    return int(lines[1]) if len(lines) > 1 and lines[1].isdigit() else -1


def remember(log_id: str, note: str) -> None:
    """Keep ``note`` in the checkpoint file if it is newer than what the file holds for this log.

    A file of another log is left alone (verification reports it): a log whose id was
    changed in the database must not get a fresh file that hides its rollback.
    """
    path = checkpoint_path()
    if path is None:
        return
    size = _size_of(note)
    key = str(path)
    with _lock:
        if _written.get(key) == (log_id, size):
            return
        try:
            current = _read(path)
            if current is not None and (current.log_id != log_id or _size_of(current.note) >= size):
                if current.log_id != log_id:
                    logger.error("the checkpoint file %s belongs to another log", path)
                _written[key] = (log_id, size)
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(f"{_HEADER}\nlog {log_id}\n{note}")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            _written[key] = (log_id, size)
        except OSError:
            logger.exception("could not keep the checkpoint in %s", path)


def seen_checkpoints(extra: list[str] | None = None) -> list[Seen]:
    """The checkpoints kept outside the database: the file beside the key and ``extra`` files or
    export folders (their ``checkpoint``)."""
    found = []
    path = checkpoint_path()
    if path is not None and (seen := _read(path)) is not None:
        found.append(seen)
    for item in extra or []:
        p = Path(item)
        if p.is_dir():
            p = p / "checkpoint"
        seen = _read(p)
        if seen is None:
            raise FileNotFoundError(f"no checkpoint at {p}")
        found.append(seen)
    return found
