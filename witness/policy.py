"""C2SP tlog-policy: which logs and witnesses are trusted, and which cosignatures make a quorum.

Lines (whitespace is spaces and tabs; ``#`` starts a comment line)::

    log <vkey> [<url>]
    witness <name> <vkey> [<url>]
    group <name> <k|any|all> <member>…
    quorum <name>|none

A group or the quorum may only name witnesses and groups defined on earlier lines; each
member at most once per group; ``1 <= k <= n``; exactly one quorum line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from witness.notes import (
    ALG_COSIGNATURE_V1,
    ALG_ED25519,
    FormatError,
    Signature,
    VerifierKey,
    cosignature_time,
    log_signed,
    parse_checkpoint,
    parse_note,
    parse_vkey,
)
from witness.notes import Checkpoint as CheckpointText


@dataclass(frozen=True)
class PolicyWitness:
    name: str
    key: VerifierKey
    url: str = ""


@dataclass(frozen=True)
class Group:
    name: str
    threshold: int
    members: tuple[str, ...]


@dataclass
class Policy:
    logs: list[tuple[VerifierKey, str]] = field(default_factory=list)
    witnesses: dict[str, PolicyWitness] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    quorum: str = ""

    def satisfied(self, cosigned: Iterable[str]) -> bool:
        """True if cosignatures by the witnesses named in ``cosigned`` meet the quorum."""
        names = set(cosigned)
        if self.quorum == "none":
            return True

        def met(name: str) -> bool:
            if name in self.witnesses:
                return name in names
            group = self.groups[name]
            return sum(1 for m in group.members if met(m)) >= group.threshold

        return met(self.quorum)

    def text(self) -> str:
        lines = [f"log {key.text}" + (f" {url}" if url else "") for key, url in self.logs]
        lines += [
            f"witness {w.name} {w.key.text}" + (f" {w.url}" if w.url else "") for w in self.witnesses.values()
        ]
        for g in self.groups.values():
            k = "all" if g.threshold == len(g.members) and len(g.members) > 1 else str(g.threshold)
            lines.append(f"group {g.name} {k} {' '.join(g.members)}")
        lines.append(f"quorum {self.quorum}")
        return "\n".join(lines) + "\n"


def parse_policy(text: str) -> Policy:
    """Parse a policy; raises ``FormatError`` naming the line."""
    policy = Policy()
    seen_keys: set[bytes] = set()
    for number, raw in enumerate(text.split("\n"), start=1):
        if any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in raw):
            raise FormatError(f"line {number}: control character")
        words = raw.replace("\t", " ").split()
        if not words or words[0].startswith("#"):
            continue
        try:
            _parse_line(policy, words, seen_keys)
        except FormatError as exc:
            raise FormatError(f"line {number}: {exc}") from exc
    if not policy.quorum:
        raise FormatError("the policy has no quorum line")
    return policy


def _parse_line(policy: Policy, words: list[str], seen_keys: set[bytes]) -> None:
    kind, rest = words[0], words[1:]
    if kind == "log":
        if not 1 <= len(rest) <= 2:
            raise FormatError("log <vkey> [<url>]")
        key = parse_vkey(rest[0], ALG_ED25519)
        if key.public_key in seen_keys:
            raise FormatError("duplicate key")
        seen_keys.add(key.public_key)
        policy.logs.append((key, rest[1] if len(rest) > 1 else ""))
    elif kind == "witness":
        if not 2 <= len(rest) <= 3:
            raise FormatError("witness <name> <vkey> [<url>]")
        name = rest[0]
        _new_name(policy, name)
        key = parse_vkey(rest[1], ALG_COSIGNATURE_V1)
        if key.public_key in seen_keys:
            raise FormatError("duplicate key")
        seen_keys.add(key.public_key)
        policy.witnesses[name] = PolicyWitness(name, key, rest[2] if len(rest) > 2 else "")
    elif kind == "group":
        if len(rest) < 3:
            raise FormatError("group <name> <k|any|all> <member>…")
        name, k, members = rest[0], rest[1], tuple(rest[2:])
        _new_name(policy, name)
        if len(set(members)) != len(members):
            raise FormatError("a member is listed twice")
        for m in members:
            if m not in policy.witnesses and m not in policy.groups:
                raise FormatError(f"unknown member {m!r}")
        if k == "any":
            threshold = 1
        elif k == "all":
            threshold = len(members)
        elif k.isdigit() and 1 <= int(k) <= len(members):
            threshold = int(k)
        else:
            raise FormatError("the threshold must be any, all or 1..n")
        policy.groups[name] = Group(name, threshold, members)
    elif kind == "quorum":
        if len(rest) != 1:
            raise FormatError("quorum <name>")
        if policy.quorum:
            raise FormatError("a second quorum line")
        if rest[0] != "none" and rest[0] not in policy.witnesses and rest[0] not in policy.groups:
            raise FormatError(f"unknown quorum {rest[0]!r}")
        policy.quorum = rest[0]
    else:
        raise FormatError(f"unknown line type {kind!r}")


def _new_name(policy: Policy, name: str) -> None:
    if name == "none" or name in policy.witnesses or name in policy.groups:
        raise FormatError(f"name {name!r} is taken")


def cosigners(
    checkpoint_text: str, signatures: Iterable[Signature], witnesses: Mapping[str, PolicyWitness]
) -> dict[str, int]:
    """The policy witnesses with a valid cosignature on the checkpoint, with its timestamp."""
    found: dict[str, int] = {}
    for sig in signatures:
        for w in witnesses.values():
            timestamp = cosignature_time(checkpoint_text, sig, w.key)
            if timestamp is not None:
                found[w.name] = min(timestamp, found.get(w.name, timestamp))
    return found


@dataclass(frozen=True)
class CheckedCheckpoint:
    checkpoint: CheckpointText
    cosigned: dict[str, int]  # witness name -> cosignature time
    quorum_met: bool


def check_cosigned_checkpoint(
    note: str, policy: Policy, log_keys: Iterable[VerifierKey] = ()
) -> CheckedCheckpoint:
    """Verify the log's signature (a key of the policy or ``log_keys``) and the cosignatures.

    Raises ``FormatError`` when the note is malformed or carries no valid log signature.
    """
    text, signatures = parse_note(note)
    keys = [k for k, _ in policy.logs] + list(log_keys)
    if not log_signed(text, signatures, keys):
        raise FormatError("the checkpoint carries no valid signature by the log's key")
    checkpoint = parse_checkpoint(text)
    if checkpoint.origin not in {k.name for k in keys}:
        raise FormatError("the checkpoint's origin is not the log's name")
    cosigned = cosigners(text, signatures, policy.witnesses)
    return CheckedCheckpoint(checkpoint, cosigned, policy.satisfied(cosigned))
