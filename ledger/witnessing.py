"""Witnesses that cosign the log's checkpoints (C2SP tlog-witness), the quorum policy, split-view alarms.

- **Policy**: the witnesses (name, verifier key, submission URL) and the quorum, in the C2SP
  tlog-policy text format, loaded with :func:`load_policy` (``yingdu ledger policy --load FILE``).
  The published policy (:func:`policy_text`) adds the ``log`` line with the platform's key.
- **Collecting**: :func:`collect_cosignatures` (the background worker, after each
  periodic checkpoint) sends the latest checkpoint to every witness with the consistency
  proof from the size that witness last cosigned; a ``409`` that names another size is answered
  by resending from that size. Valid cosignatures are stored with the checkpoint
  (:class:`~ledger.models.Cosignature`); a checkpoint is *witnessed* once they meet the quorum.
- **Never blocking**: a witness that is down or refuses is only marked on its row (shown on the
  security administrator's console and in the nightly verification); appends never wait for it.
- **Split views**: a witness that holds another root for a size (``409`` at the same size), a
  tree our log does not extend (``422``), or a larger tree than any checkpoint we signed, has
  been shown a different history: the platform raises the alarm (an audit event, the console,
  and an e-mail to the security and audit administrators through ``core.hooks``).
"""

from __future__ import annotations

import bisect
import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import requests
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ledger import keys, services
from ledger.actions import record_event
from ledger.models import AuditEvent, Checkpoint, Cosignature, Witness, WitnessPolicy
from witness.notes import (
    FormatError,
    parse_note,
    parse_signature_lines,
    parse_size,
    parse_vkey,
)
from witness.notes import cosignature_time as _cosignature_time
from witness.policy import Policy, parse_policy

logger = logging.getLogger(__name__)

SIZE_CONTENT_TYPE = "text/x.tlog.size"
MAX_RESENDS = 3


def _timeout() -> float:
    return float(getattr(settings, "LEDGER_WITNESS_TIMEOUT", 10))


# --- the policy ---


def stored_policy() -> Policy | None:
    """The loaded witness policy, or ``None`` when the platform has no witnesses."""
    row = WitnessPolicy.objects.filter(pk=1).first()
    if row is None:
        return None
    return parse_policy(row.text)


def policy_text() -> str:
    """The published policy: the log's key, each witness with its verifier key and URL, the quorum."""
    row = WitnessPolicy.objects.filter(pk=1).first()
    head = f"log {keys.verifier_key()}\n"
    if row is None:
        return head + "quorum none\n"
    return head + parse_policy(row.text).text()


def load_policy(text: str, *, actor: AbstractBaseUser | None, actor_repr: str = "") -> Policy:
    """Store a tlog-policy (its log lines are ignored: the log's key is the platform's own).

    Each witness needs a submission URL. Witnesses left out are kept (their cosignatures stay
    verifiable) but no longer asked. Raises ``FormatError`` naming the line.
    """
    kept = "\n".join(line for line in text.split("\n") if not line.strip().startswith("log "))
    policy = parse_policy(kept)
    for w in policy.witnesses.values():
        if not w.url.startswith(("http://", "https://")):
            raise FormatError(_("见证方 %(name)s 缺少 http(s) 提交地址") % {"name": w.name})
    policy.logs = []
    stored = WitnessPolicy.objects.filter(pk=1).first()
    if stored is not None and stored.text == policy.text():
        return policy  # unchanged: nothing to record
    with transaction.atomic():
        WitnessPolicy.objects.update_or_create(
            pk=1, defaults={"text": policy.text(), "updated_at": timezone.now()}
        )
        Witness.objects.exclude(name__in=policy.witnesses).update(in_policy=False)
        for w in policy.witnesses.values():
            row = Witness.objects.filter(name=w.name).first()
            if row is None or row.verifier_key != w.key.text:
                if row is not None:
                    # A new key is a new witness as far as stored cosignatures go: keep the old row.
                    row.name = f"{row.name}~{row.pk}"
                    row.in_policy = False
                    row.save(update_fields=["name", "in_policy"])
                Witness.objects.create(name=w.name, verifier_key=w.key.text, url=w.url)
            else:
                row.url, row.in_policy = w.url, True
                row.save(update_fields=["url", "in_policy"])
        record_event(
            "ledger.witness_policy",
            actor=actor,
            actor_repr=actor_repr,
            after={"witnesses": sorted(policy.witnesses), "quorum": policy.quorum},
        )
    return policy


# --- collecting cosignatures ---


@dataclass(frozen=True)
class Submission:
    witness: str
    status: str
    detail: str = ""


def _latest_checkpoint() -> Checkpoint | None:
    key_hash = keys.signer().key_hash.hex()
    return Checkpoint.objects.filter(key_hash=key_hash).order_by("-tree_size").first()


def collect_cosignatures() -> list[Submission]:
    """Send the latest checkpoint to every witness of the policy; store what comes back."""
    if stored_policy() is None:
        return []
    checkpoint = _latest_checkpoint()
    if checkpoint is None:
        return []
    return [_submit(w, checkpoint) for w in Witness.objects.filter(in_policy=True).order_by("name")]


def _request_body(old: int, checkpoint: Checkpoint) -> bytes:
    proof = services.consistency_proof(old, checkpoint.tree_size)
    lines = [f"old {old}"] + [services.b64(h) for h in proof]
    return ("\n".join(lines) + "\n\n" + checkpoint.note).encode()


def _mark(witness: Witness, status: str, detail: str = "", **fields: Any) -> Submission:
    witness.status, witness.detail, witness.checked_at = status, detail[:500], timezone.now()
    for name, value in fields.items():
        setattr(witness, name, value)
    witness.save(update_fields=["status", "detail", "checked_at", *fields])
    return Submission(witness.name, status, detail)


def _submit(witness: Witness, checkpoint: Checkpoint) -> Submission:
    if Cosignature.objects.filter(checkpoint=checkpoint, witness=witness).exists():
        return Submission(witness.name, witness.status)
    old = witness.known_size
    for _attempt in range(MAX_RESENDS):
        if old > checkpoint.tree_size:
            if Checkpoint.objects.filter(tree_size=old).exists():
                # Another process already had a newer checkpoint of ours cosigned.
                return _mark(witness, Witness.Status.OK, known_size=old)
            return _alarm(
                witness,
                checkpoint,
                _("见证方已副署大小 %(size)s，超出本平台签署过的任何检查点") % {"size": old},
            )
        try:
            body = _request_body(old, checkpoint)
        except services.ProofError:
            return _alarm(witness, checkpoint, _("见证方所持大小 %(size)s 无法由本日志证明") % {"size": old})
        url = witness.url.rstrip("/") + "/add-checkpoint"
        try:
            response = requests.post(url, data=body, timeout=_timeout())
        except requests.RequestException as exc:
            return _mark(
                witness, Witness.Status.DOWN, _("无法连接：%(error)s") % {"error": type(exc).__name__}
            )
        if response.status_code == 200:
            return _store(witness, checkpoint, response.text)
        if response.status_code == 409 and response.headers.get("Content-Type", "").startswith(
            SIZE_CONTENT_TYPE
        ):
            try:
                size = parse_size(response.text.strip())
            except FormatError:
                return _mark(witness, Witness.Status.REFUSED, _("见证方的 409 应答无法解析"))
            if size == old:
                return _alarm(
                    witness,
                    checkpoint,
                    _("见证方在大小 %(size)s 处持有另一个根哈希（日志分叉）") % {"size": size},
                )
            old = size
            witness.known_size = size
            witness.save(update_fields=["known_size"])
            continue
        if response.status_code == 422:
            return _alarm(
                witness,
                checkpoint,
                _("见证方所持的大小 %(size)s 的日志与本日志不一致（一致性证明不成立）") % {"size": old},
            )
        return _mark(
            witness,
            Witness.Status.REFUSED,
            _("见证方拒绝副署（HTTP %(code)s）") % {"code": response.status_code},
        )
    return _mark(witness, Witness.Status.REFUSED, _("见证方多次报告不同的已副署大小"))


def _store(witness: Witness, checkpoint: Checkpoint, body: str) -> Submission:
    text = parse_note(checkpoint.note)[0]
    key = parse_vkey(witness.verifier_key)
    try:
        signatures = parse_signature_lines(body)
    except FormatError:
        return _mark(witness, Witness.Status.REFUSED, _("见证方的副署无法解析"))
    for sig in signatures:
        timestamp = _cosignature_time(text, sig, key)
        if timestamp is None:
            continue
        Cosignature.objects.get_or_create(
            checkpoint=checkpoint,
            witness=witness,
            defaults={"line": sig.line, "cosigned_at": dt.datetime.fromtimestamp(timestamp, dt.UTC)},
        )
        return _mark(witness, Witness.Status.OK, known_size=checkpoint.tree_size)
    return _mark(witness, Witness.Status.REFUSED, _("见证方的副署无法用其公钥验证"))


def _alarm(witness: Witness, checkpoint: Checkpoint, reason: str) -> Submission:
    """Someone showed this witness another history: audit it, mark the console, tell the admins.

    Raised once: while the witness stays in the alarm state, later checkpoints it refuses only
    update its row (the alarm clears when it cosigns again)."""
    from core import hooks

    repeated = witness.status == Witness.Status.SPLIT_VIEW
    with transaction.atomic():
        result = _mark(
            witness,
            Witness.Status.SPLIT_VIEW,
            reason,
            alarm_size=checkpoint.tree_size,
            alarm_at=timezone.now(),
        )
        if not repeated:
            record_event(
                "ledger.witness_alarm",
                actor=None,
                actor_repr="system",
                obj=witness,
                after={"witness": witness.name, "tree_size": checkpoint.tree_size, "reason": reason},
                result=AuditEvent.Result.FAILURE,
            )
            hooks.announce(
                hooks.LEDGER_WITNESS_ALARM,
                witness_name=witness.name,
                tree_size=checkpoint.tree_size,
                reason=reason,
            )
    logger.error("witness %s: %s", witness.name, reason)
    return result


# --- reading cosignatures back ---


def witnessed_note(checkpoint: Checkpoint) -> str:
    """The signed checkpoint with every stored cosignature line appended."""
    lines = [c.line for c in checkpoint.cosignatures.select_related("witness").order_by("witness__name")]
    return checkpoint.note + "".join(lines)


def _quorum_met(policy: Policy, checkpoint: Checkpoint) -> bool:
    names = {c.witness.name for c in checkpoint.cosignatures.select_related("witness")}
    return policy.satisfied(names)


def latest_witnessed() -> Checkpoint | None:
    """The largest checkpoint whose stored cosignatures meet the quorum (``None`` without a policy)."""
    policy = stored_policy()
    if policy is None:
        return None
    key_hash = keys.signer().key_hash.hex()
    candidates = (
        Checkpoint.objects.filter(key_hash=key_hash, cosignatures__isnull=False)
        .distinct()
        .order_by("-tree_size")
    )
    for checkpoint in candidates[:50]:
        if _quorum_met(policy, checkpoint):
            return checkpoint
    return None


def witnessed_size() -> int:
    """The size of the latest witnessed checkpoint (0 when there is none): entries below it have proofs."""
    cp = latest_witnessed()
    return cp.tree_size if cp is not None else 0


def witnessed_covering(index: int) -> Checkpoint | None:
    """The smallest witnessed checkpoint that covers entry ``index``."""
    policy = stored_policy()
    if policy is None:
        return None
    key_hash = keys.signer().key_hash.hex()
    candidates = (
        Checkpoint.objects.filter(key_hash=key_hash, tree_size__gt=index, cosignatures__isnull=False)
        .distinct()
        .order_by("tree_size")
    )
    for checkpoint in candidates[:50]:
        if _quorum_met(policy, checkpoint):
            return checkpoint
    return None


def cosignature_problems() -> list[str]:
    """Every stored cosignature that does not verify against its witness's key on its checkpoint."""
    problems = []
    rows = Cosignature.objects.select_related("witness", "checkpoint").order_by("id")
    for c in rows.iterator(chunk_size=500):
        try:
            text = parse_note(c.checkpoint.note)[0]
            [sig] = parse_signature_lines(c.line)
            timestamp = _cosignature_time(text, sig, parse_vkey(c.witness.verifier_key))
        except (FormatError, ValueError):
            timestamp = None
        if timestamp is None or int(c.cosigned_at.timestamp()) != timestamp:
            problems.append(
                _("见证方 %(witness)s 对检查点（大小 %(size)s）的副署无法验证")
                % {"witness": c.witness.name, "size": c.checkpoint.tree_size}
            )
    return problems


@dataclass(frozen=True)
class WitnessReport:
    witnessed_size: int | None
    unavailable: list[str]  # "name: detail" of witnesses down, refusing or alarmed


def report() -> WitnessReport:
    cp = latest_witnessed()
    bad = Witness.objects.filter(in_policy=True).exclude(
        status__in=[Witness.Status.OK, Witness.Status.PENDING]
    )
    return WitnessReport(
        cp.tree_size if cp else None, [f"{w.name}: {w.get_status_display()} {w.detail}" for w in bad]
    )


def report_text() -> str:
    """One or more lines for ``yingdu ledger verify``."""
    if stored_policy() is None:
        return _("见证：未配置见证方")
    r = report()
    lines = [
        _("见证：最新已见证的日志大小 %(size)s") % {"size": r.witnessed_size}
        if r.witnessed_size is not None
        else _("见证：尚无达到法定数的检查点")
    ]
    lines += [_("见证方异常 %(what)s") % {"what": what} for what in r.unavailable]
    return "\n".join(lines)


def console_rows() -> dict[str, Any]:
    """What the security administrator's console shows: each witness and the latest witnessed size."""
    policy = stored_policy()
    cp = latest_witnessed() if policy is not None else None
    return {
        "configured": policy is not None,
        "quorum": policy.quorum if policy is not None else "",
        "witnessed_size": cp.tree_size if cp is not None else None,
        "log_size": services.tree_size(),
        "witnesses": list(Witness.objects.filter(in_policy=True).order_by("name")),
        "alarms": list(Witness.objects.filter(status=Witness.Status.SPLIT_VIEW).order_by("name")),
    }


# --- time bounds ---


def first_cosignatures(up_to_size: int | None = None) -> list[tuple[int, dt.datetime]]:
    """(tree size, earliest cosignature time of any checkpoint of at least that size), by size.

    The earliest cosignature covering entry ``i`` is the time of the first pair whose size exceeds ``i``.
    """
    rows = Cosignature.objects.values_list("checkpoint__tree_size", "cosigned_at")
    if up_to_size is not None:
        rows = rows.filter(checkpoint__tree_size__lte=up_to_size)
    by_size: dict[int, dt.datetime] = {}
    for size, at in rows:
        by_size[size] = min(at, by_size.get(size, at))
    out: list[tuple[int, dt.datetime]] = []
    earliest: dt.datetime | None = None
    for size in sorted(by_size, reverse=True):  # suffix minimum: a larger checkpoint covers too
        earliest = by_size[size] if earliest is None else min(earliest, by_size[size])
        out.append((size, earliest))
    out.reverse()
    return out


def ends_after_cosignature(
    rows: Iterable[tuple[int, dt.datetime]],
    tolerance_minutes: Decimal,
    firsts: list[tuple[int, dt.datetime]] | None = None,
) -> list[tuple[int, dt.datetime, dt.datetime]]:
    """The (leaf index, stated end, first covering cosignature) of the records that say they ended
    later than a witness cosigned a checkpoint covering them, by more than the tolerance.

    A cosignature is an independent upper bound on when an entry existed: a record ending after it
    comes from a clock running ahead or was written after the fact. ``firsts`` is
    :func:`first_cosignatures` (read here when not given).
    """
    if firsts is None:
        firsts = first_cosignatures()
    sizes = [size for size, _at in firsts]
    tolerance = dt.timedelta(minutes=float(tolerance_minutes))
    late = []
    for index, ended_at in rows:
        k = bisect.bisect_right(sizes, index)
        if k < len(firsts) and ended_at - firsts[k][1] > tolerance:
            late.append((index, ended_at, firsts[k][1]))
    return late


WITNESSED_FILE = "checkpoint.witnessed"
POLICY_FILE = "witness-policy"


def export_files(size: int) -> dict[str, bytes]:
    """What the tiles export adds: the policy, the latest witnessed checkpoint with its cosignature
    lines, and, when that checkpoint is the one the export is cut at, its cosignatures in ``checkpoint``."""
    if stored_policy() is None:
        return {}
    files = {POLICY_FILE: policy_text().encode()}
    cp = latest_witnessed()
    if cp is not None and cp.tree_size <= size:
        files[WITNESSED_FILE] = witnessed_note(cp).encode()
        if cp.tree_size == size:
            files["checkpoint"] = files[WITNESSED_FILE]
    return files


def witness_summary() -> dict[str, Any]:
    """What the nightly verification records of the witnesses (in its audit event)."""
    if stored_policy() is None:
        return {}
    r = report()
    return {"witnessed_size": r.witnessed_size, "witnesses_unavailable": r.unavailable}
