"""C2SP signed notes and tlog checkpoints with Ed25519 keys (pure, no Django).

Formats (https://c2sp.org/signed-note, https://c2sp.org/tlog-checkpoint):

- A *checkpoint* is the text ``<origin>\\n<tree size>\\n<base64 root hash>\\n``,
  optionally followed by extension lines.
- A *signed note* is the text, an empty line, and one line per signature:
  ``— <key name> <base64(key hash ‖ signature)>\\n`` (``—`` is U+2014).
  The Ed25519 signature is over the text bytes, final newline included.
- The *key hash* is the first 4 bytes of ``SHA-256(name ‖ "\\n" ‖ 0x01 ‖ public key)``.
- A *verifier key* is ``<name>+<key hash, 8 hex digits>+<base64(0x01 ‖ public key)>``;
  the signer (private) key is stored as
  ``PRIVATE+KEY+<name>+<key hash>+<base64(0x01 ‖ 32-byte seed)>``, the format of
  Go's ``golang.org/x/mod/sumdb/note``, so other tools can use the same key.

Verification accepts a note only if it carries a valid signature by the given
verifier key; signatures by other keys are ignored, and a note with none by
the given key is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG_ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "
MAX_SIGNATURES = 100
_NAME_RE = re.compile(r"^[^\s+]+$")


class NoteError(ValueError):
    """A malformed note, key or checkpoint, or a signature that does not verify."""


def _b64decode(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError(f"invalid base64: {value!r}") from exc


def _check_name(name: str) -> None:
    if not name or not _NAME_RE.match(name) or not name.isprintable():
        raise NoteError(f"invalid key name {name!r}")


def key_hash(name: str, public_key: bytes) -> bytes:
    """The 4-byte key hash of an Ed25519 public key under ``name``."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class Verifier:
    """A parsed verifier key."""

    name: str
    key_hash: bytes
    public_key: Ed25519PublicKey

    @property
    def text(self) -> str:
        raw = _raw_public(self.public_key)
        return f"{self.name}+{self.key_hash.hex()}+{base64.b64encode(bytes([ALG_ED25519]) + raw).decode()}"

    def verify(self, text: bytes, signature: bytes) -> bool:
        try:
            self.public_key.verify(signature, text)
        except InvalidSignature:
            return False
        return True


def verifier_key(name: str, public_key: Ed25519PublicKey | bytes) -> str:
    """The verifier key string ``name+hash+base64(0x01 ‖ key)``."""
    _check_name(name)
    raw = public_key if isinstance(public_key, bytes) else _raw_public(public_key)
    return f"{name}+{key_hash(name, raw).hex()}+{base64.b64encode(bytes([ALG_ED25519]) + raw).decode()}"


def parse_verifier_key(vkey: str) -> Verifier:
    """Parse and check a verifier key string."""
    # The base64 key may itself contain "+": only the first two separate fields.
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        raise NoteError("verifier key must be name+hash+key")
    name, hash_hex, key_b64 = parts
    _check_name(name)
    if not re.fullmatch(r"[0-9a-f]{8}", hash_hex):
        raise NoteError("verifier key hash must be 8 lowercase hex digits")
    raw = _b64decode(key_b64)
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise NoteError("verifier key is not an Ed25519 key")
    if key_hash(name, raw[1:]) != bytes.fromhex(hash_hex):
        raise NoteError("verifier key hash does not match the key")
    return Verifier(name, bytes.fromhex(hash_hex), Ed25519PublicKey.from_public_bytes(raw[1:]))


@dataclass(frozen=True)
class Signer:
    """A private Ed25519 key with its name."""

    name: str
    private_key: Ed25519PrivateKey

    @property
    def public_bytes(self) -> bytes:
        return _raw_public(self.private_key.public_key())

    @property
    def key_hash(self) -> bytes:
        return key_hash(self.name, self.public_bytes)

    @property
    def verifier_key(self) -> str:
        return verifier_key(self.name, self.public_bytes)

    @property
    def verifier(self) -> Verifier:
        return parse_verifier_key(self.verifier_key)

    @property
    def text(self) -> str:
        """The private key in Go ``note`` format (keep it secret)."""
        seed = self.private_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        b64 = base64.b64encode(bytes([ALG_ED25519]) + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.key_hash.hex()}+{b64}"

    def sign(self, text: str) -> str:
        """Sign ``text`` (a valid note text) and return the signed note."""
        _check_text(text)
        sig = self.private_key.sign(text.encode())
        line = f"{SIGNATURE_PREFIX}{self.name} {base64.b64encode(self.key_hash + sig).decode()}\n"
        return text + "\n" + line


def generate_signer(name: str) -> Signer:
    """A new random Ed25519 signer."""
    _check_name(name)
    return Signer(name, Ed25519PrivateKey.generate())


def parse_signer_key(skey: str) -> Signer:
    """Parse a ``PRIVATE+KEY+name+hash+base64`` signer key."""
    prefix = "PRIVATE+KEY+"
    parts = skey.strip().removeprefix(prefix).split("+", 2)
    if not skey.strip().startswith(prefix) or len(parts) != 3:
        raise NoteError("signer key must be PRIVATE+KEY+name+hash+key")
    name, hash_hex, key_b64 = parts
    _check_name(name)
    raw = _b64decode(key_b64)
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise NoteError("signer key is not an Ed25519 key")
    signer = Signer(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
    if signer.key_hash.hex() != hash_hex:
        raise NoteError("signer key hash does not match the key")
    return signer


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("note text must not contain control characters")


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_hash: bytes
    signature: bytes


@dataclass(frozen=True)
class Note:
    text: str
    signatures: tuple[NoteSignature, ...]


def parse_note(msg: str) -> Note:
    """Split a signed note into its text and signatures (nothing is verified)."""
    split = msg.rfind("\n\n")
    if split < 0:
        raise NoteError("malformed note: no blank line before the signatures")
    text, sig_block = msg[: split + 1], msg[split + 2 :]
    _check_text(text)
    if not sig_block.endswith("\n"):
        raise NoteError("malformed note: signatures must end with a newline")
    signatures: list[NoteSignature] = []
    for line in sig_block[:-1].split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError("malformed note: bad signature line")
        name, _, b64 = line[len(SIGNATURE_PREFIX) :].rpartition(" ")
        _check_name(name)
        raw = _b64decode(b64)
        if len(raw) < 5:
            raise NoteError("malformed note: signature too short")
        signatures.append(NoteSignature(name, raw[:4], raw[4:]))
    if not signatures or len(signatures) > MAX_SIGNATURES:
        raise NoteError("malformed note: wrong number of signatures")
    return Note(text, tuple(signatures))


def open_note(msg: str, verifier: Verifier | str) -> str:
    """Return the text of ``msg`` if it carries a valid signature by ``verifier``; raise ``NoteError`` if not."""
    v = parse_verifier_key(verifier) if isinstance(verifier, str) else verifier
    note = parse_note(msg)
    ours = [s for s in note.signatures if s.name == v.name and s.key_hash == v.key_hash]
    if not ours:
        raise NoteError(f"note is not signed by the key {v.name}+{v.key_hash.hex()}")
    if not all(v.verify(note.text.encode(), s.signature) for s in ours):
        raise NoteError(f"invalid signature by the key {v.name}+{v.key_hash.hex()}")
    return note.text


@dataclass(frozen=True)
class Checkpoint:
    """A parsed tlog checkpoint."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return format_checkpoint(self.origin, self.size, self.root_hash, self.extensions)


def format_checkpoint(origin: str, size: int, root_hash: bytes, extensions: tuple[str, ...] = ()) -> str:
    """The checkpoint text (the body of the signed note)."""
    if not origin or "\n" in origin or size < 0:
        raise NoteError("invalid checkpoint origin or size")
    lines = [origin, str(size), base64.b64encode(root_hash).decode(), *extensions]
    if any(not line for line in lines):
        raise NoteError("checkpoint lines must not be empty")
    return "\n".join(lines) + "\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint text (not a signed note; see :func:`open_checkpoint`)."""
    if not text.endswith("\n"):
        raise NoteError("checkpoint must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3 or any(not line for line in lines):
        raise NoteError("checkpoint must have an origin, a size and a root hash")
    origin, size_s, root_b64, *ext = lines
    if not re.fullmatch(r"0|[1-9][0-9]*", size_s):
        raise NoteError(f"invalid tree size {size_s!r}")
    return Checkpoint(origin, int(size_s), _b64decode(root_b64), tuple(ext))


def open_checkpoint(msg: str, verifier: Verifier | str, origin: str | None = None) -> Checkpoint:
    """Verify a signed checkpoint with the verifier key and parse it; optionally require its origin."""
    checkpoint = parse_checkpoint(open_note(msg, verifier))
    if origin is not None and checkpoint.origin != origin:
        raise NoteError(f"checkpoint origin {checkpoint.origin!r} is not {origin!r}")
    return checkpoint


def sign_checkpoint(signer: Signer, origin: str, size: int, root_hash: bytes) -> str:
    """The signed note of a checkpoint."""
    return signer.sign(format_checkpoint(origin, size, root_hash))
