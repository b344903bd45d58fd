"""The platform's Ed25519 checkpoint key: created on first use at ``LEDGER_KEY_PATH`` (mode 600)."""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path

from django.conf import settings

from ledger.note import Signer, generate_signer, parse_signer_key

_lock = threading.Lock()
_signers: dict[str, Signer] = {}


def signer() -> Signer:
    """The signing key, loaded once per process (and created if the file does not exist yet)."""
    path = Path(settings.LEDGER_KEY_PATH)
    cache_key = str(path.resolve())
    found = _signers.get(cache_key)
    if found is not None:
        return found
    with _lock:
        found = _signers.get(cache_key)
        if found is None:
            found = _load_or_create(path, settings.LEDGER_ORIGIN)
            _signers[cache_key] = found
    return found


def _load_or_create(path: Path, name: str) -> Signer:
    if path.exists():
        return parse_signer_key(path.read_text(encoding="ascii"))
    path.parent.mkdir(parents=True, exist_ok=True)
    new = generate_signer(name)
    # Write a private temporary file, then link it into place: two processes starting at
    # once both succeed, and both end up with the key that won the link.
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(new.text + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return parse_signer_key(path.read_text(encoding="ascii"))
    finally:
        tmp.unlink(missing_ok=True)
    return new


def verifier_key() -> str:
    """The published verifier key, ``name+hash+base64(0x01 ‖ public key)``."""
    return signer().verifier_key
