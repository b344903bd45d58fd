"""Signed notes, checkpoints and cosignatures (C2SP signed-note, tlog-checkpoint, tlog-cosignature).

- A signed note is a text, an empty line and signature lines ``— <name> base64(key id ‖ sig)``.
- A verifier key is ``<name>+<key id, 8 hex>+base64(<alg> ‖ public key)``; the key id is
  ``SHA-256(name ‖ "\\n" ‖ alg ‖ public key)[:4]``. Logs sign with plain Ed25519 (alg 0x01),
  witnesses cosign with ``cosignature/v1`` (alg 0x04).
- A cosignature's signature bytes are ``key id ‖ timestamp (u64, big-endian) ‖ Ed25519 sig``, the
  signature covering ``"cosignature/v1\\ntime <timestamp>\\n"`` followed by the checkpoint text.
- A private key is kept as ``PRIVATE+KEY+<name>+<key id>+base64(<alg> ‖ 32-byte seed)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04
SIGNATURE_PREFIX = "\u2014 "
MAX_SIGNATURES = 100
_NAME_RE = re.compile(r"^[^\s+]+$")
_SIZE_RE = re.compile(r"0|[1-9][0-9]{0,19}")


class FormatError(ValueError):
    """A malformed note, key, checkpoint or proof."""


def b64decode(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise FormatError(f"invalid base64: {value[:60]!r}") from exc


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def parse_size(text: str) -> int:
    """A decimal size with no leading zeroes, as the C2SP formats write it."""
    if not _SIZE_RE.fullmatch(text):
        raise FormatError(f"invalid size {text[:30]!r}")
    value = int(text)
    if value >= 1 << 63:
        raise FormatError("size too large")
    return value


def check_name(name: str) -> None:
    if not name or not _NAME_RE.match(name) or not name.isprintable():
        raise FormatError(f"invalid key name {name[:60]!r}")


def key_id(name: str, alg: int, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public_key).digest()[:4]


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class VerifierKey:
    name: str
    key_id: bytes
    alg: int
    public_key: bytes

    @property
    def text(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{b64(bytes([self.alg]) + self.public_key)}"

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


def parse_vkey(vkey: str, alg: int | None = None) -> VerifierKey:
    """Parse a verifier key; ``alg`` requires that algorithm (0x01 log key, 0x04 cosigner key)."""
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        raise FormatError("verifier key must be name+keyid+key")
    name, id_hex, key_b64 = parts
    check_name(name)
    if not re.fullmatch(r"[0-9a-f]{8}", id_hex):
        raise FormatError("verifier key id must be 8 lowercase hex digits")
    raw = b64decode(key_b64)
    if len(raw) != 33 or raw[0] not in (ALG_ED25519, ALG_COSIGNATURE_V1):
        raise FormatError("verifier key is not an Ed25519 or cosignature/v1 key")
    if alg is not None and raw[0] != alg:
        raise FormatError("verifier key has the wrong signature type")
    if key_id(name, raw[0], raw[1:]) != bytes.fromhex(id_hex):
        raise FormatError("verifier key id does not match the key")
    return VerifierKey(name, bytes.fromhex(id_hex), raw[0], raw[1:])


@dataclass(frozen=True)
class PrivateKey:
    name: str
    alg: int
    key: Ed25519PrivateKey

    @property
    def public_bytes(self) -> bytes:
        return raw_public(self.key.public_key())

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.alg, self.public_bytes)

    @property
    def vkey(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{b64(bytes([self.alg]) + self.public_bytes)}"

    @property
    def text(self) -> str:
        seed = self.key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{b64(bytes([self.alg]) + seed)}"

    def sign_note(self, text: str) -> str:
        """A signed note of ``text`` (plain Ed25519 keys only)."""
        if self.alg != ALG_ED25519:
            raise FormatError("only an Ed25519 note key signs notes")
        sig = self.key.sign(text.encode())
        return f"{text}\n{SIGNATURE_PREFIX}{self.name} {b64(self.key_id + sig)}\n"

    def cosign(self, checkpoint_text: str, timestamp: int) -> str:
        """One cosignature/v1 signature line over a checkpoint text."""
        if self.alg != ALG_COSIGNATURE_V1:
            raise FormatError("only a cosignature/v1 key cosigns")
        sig = self.key.sign(cosigned_message(checkpoint_text, timestamp))
        return f"{SIGNATURE_PREFIX}{self.name} {b64(self.key_id + struct.pack('>Q', timestamp) + sig)}\n"


def generate_key(name: str, alg: int = ALG_COSIGNATURE_V1) -> PrivateKey:
    check_name(name)
    return PrivateKey(name, alg, Ed25519PrivateKey.generate())


def parse_private_key(text: str) -> PrivateKey:
    prefix = "PRIVATE+KEY+"
    stripped = text.strip()
    parts = stripped.removeprefix(prefix).split("+", 2)
    if not stripped.startswith(prefix) or len(parts) != 3:
        raise FormatError("private key must be PRIVATE+KEY+name+keyid+key")
    name, id_hex, key_b64 = parts
    check_name(name)
    raw = b64decode(key_b64)
    if len(raw) != 33 or raw[0] not in (ALG_ED25519, ALG_COSIGNATURE_V1):
        raise FormatError("private key is not an Ed25519 key")
    key = PrivateKey(name, raw[0], Ed25519PrivateKey.from_private_bytes(raw[1:]))
    if key.key_id.hex() != id_hex:
        raise FormatError("private key id does not match the key")
    return key


def cosigned_message(checkpoint_text: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs (tlog-cosignature)."""
    return f"cosignature/v1\ntime {timestamp}\n".encode() + checkpoint_text.encode()


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: bytes
    data: bytes  # the bytes after the key id

    @property
    def line(self) -> str:
        return f"{SIGNATURE_PREFIX}{self.name} {b64(self.key_id + self.data)}\n"


def check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise FormatError("note text must end with a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise FormatError("note text must not contain control characters")


def parse_signature_lines(block: str) -> list[Signature]:
    """Signature lines, each ``— name base64`` ending in a newline."""
    if not block.endswith("\n"):
        raise FormatError("signature lines must end with a newline")
    out: list[Signature] = []
    for line in block[:-1].split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise FormatError("bad signature line")
        name, _, value = line[len(SIGNATURE_PREFIX) :].rpartition(" ")
        check_name(name)
        raw = b64decode(value)
        if len(raw) < 5:
            raise FormatError("signature too short")
        out.append(Signature(name, raw[:4], raw[4:]))
    if not out or len(out) > MAX_SIGNATURES:
        raise FormatError("wrong number of signatures")
    return out


def parse_note(msg: str) -> tuple[str, list[Signature]]:
    """Split a signed note into its text and signatures (nothing is verified)."""
    split = msg.rfind("\n\n")
    if split < 0:
        raise FormatError("no blank line before the signatures")
    text = msg[: split + 1]
    check_text(text)
    return text, parse_signature_lines(msg[split + 2 :])


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes
    text: str


def parse_checkpoint(text: str) -> Checkpoint:
    check_text(text)
    lines = text[:-1].split("\n")
    if len(lines) < 3 or any(not line for line in lines):
        raise FormatError("a checkpoint has an origin, a size and a root hash")
    root = b64decode(lines[2])
    if len(root) != 32:
        raise FormatError("root hash must be 32 bytes")
    return Checkpoint(lines[0], parse_size(lines[1]), root, text)


def log_signed(text: str, signatures: list[Signature], log_keys: list[VerifierKey]) -> bool:
    """True if a signature by one of the log keys verifies; signatures by other keys are ignored."""
    for key in log_keys:
        if key.alg != ALG_ED25519:
            continue
        for sig in signatures:
            if sig.name == key.name and sig.key_id == key.key_id and key.verify(sig.data, text.encode()):
                return True
    return False


def cosignature_time(checkpoint_text: str, sig: Signature, key: VerifierKey) -> int | None:
    """The timestamp of a valid cosignature/v1 by ``key`` on the checkpoint, else ``None``."""
    if key.alg != ALG_COSIGNATURE_V1 or sig.name != key.name or sig.key_id != key.key_id:
        return None
    if len(sig.data) != 8 + 64:
        return None
    (timestamp,) = struct.unpack(">Q", sig.data[:8])
    if not key.verify(sig.data[8:], cosigned_message(checkpoint_text, timestamp)):
        return None
    return int(timestamp)
