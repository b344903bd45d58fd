"""What the digital signatures of an uploaded file say, checked once on upload (``core.uploads``).

A PDF's signatures are read with pyHanko and each is validated offline against the trust list
(``SIGNATURE_TRUST_ROOTS``, ``core.signing.trust_roots``): integrity of the signed bytes,
the signature itself, the chain to a trusted root, and changes appended after signing. SM2 seals
(GB/T 38540, recognised by their 1.2.156.10197 algorithm identifiers or a non-PAdES sub-filter)
and OFD files are handed to the verifier named by ``SIGNATURE_VERIFIER`` (a dotted path); until
one is configured they read 签章未验证, never 有效.

The result is a JSON-able dict stored with the file::

    {"status": "valid" | "warning" | "unsigned" | "unverified", "kind": "pdf" | "ofd",
     "reason": "<problem code, unsigned or unreadable files>",
     "signatures": [{"signer": CN, "organization": O, "signed_at": ISO time or "",
                     "timestamped": bool, "intact": bool, "trusted": bool, "seal": "pades" | "sm2",
                     "problems": [codes]}]}

Codes, not sentences, are stored; :func:`describe` and :func:`status_label` give the Chinese text.
A verifier is ``callable(content: bytes, *, kind: str) -> list[dict]`` returning signature entries
of the same shape (``kind`` is ``"ofd"`` or ``"sm2"``).
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from core.filetypes import OFD, PDF
from core.signing import trust_roots

logger = logging.getLogger(__name__)

VALID, WARNING, UNSIGNED, UNVERIFIED = "valid", "warning", "unsigned", "unverified"
STATUS_LABELS = {VALID: _l("有效"), WARNING: _l("警告"), UNSIGNED: _l("未签名"), UNVERIFIED: _l("签章未验证")}
PROBLEM_LABELS = {
    "modified": _l("签名后文件被修改"),
    "invalid": _l("签名值无效"),
    "untrusted": _l("签名证书不在信任列表中"),
    "revoked": _l("签名证书已吊销"),
    "unreadable": _l("签名无法读取"),
    "timeout": _l("验证超时，未完成"),
    "no_verifier": _l("未配置国密签章或 OFD 验证组件"),
    "verifier_failed": _l("签章验证组件出错"),
    "broken_pdf": _l("PDF 结构无法读取签名"),
}
# A document with more signatures than this is checked up to this many; the rest are a warning.
MAX_SIGNATURES = 10
# PDF signature sub-filters pyHanko validates; anything else (a GB/T 38540 seal) goes to the verifier.
PADES_SUBFILTERS = frozenset(
    {"/adbe.pkcs7.detached", "/adbe.pkcs7.sha1", "/ETSI.CAdES.detached", "/ETSI.RFC3161"}
)
# The DER of OID arc 1.2.156.10197 (the Chinese commercial algorithms SM2/SM3/SM4).
GM_OID_PREFIX = b"\x06\x08\x2a\x81\x1c\xcf\x55"
GM_OID_ARC = "1.2.156.10197."


def status_label(result: dict[str, Any] | None) -> str:
    return str(STATUS_LABELS.get((result or {}).get("status", ""), ""))


def _signer_text(entry: dict[str, Any]) -> str:
    names = [str(entry.get("signer") or ""), str(entry.get("organization") or "")]
    return "，".join(n for n in names if n) or _("未知签署人")


def _local_time(value: str) -> str:
    """An ISO time as Beijing time to the minute; what a verifier gave, if it is not ISO."""
    import datetime as dt

    from django.utils import timezone

    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return value[:40]
    if timezone.is_naive(moment):
        return f"{moment:%Y-%m-%d %H:%M}"
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


def describe(result: dict[str, Any] | None) -> str:
    """One Chinese sentence for the reviewer: who signed, when, and what is wrong."""
    result = result or {}
    status = result.get("status")
    if not status:
        return ""
    parts: list[str] = []
    for entry in result.get("signatures", []):
        text = _("签署人：%(signer)s") % {"signer": _signer_text(entry)}
        when = _local_time(str(entry.get("signed_at") or ""))
        if when:
            text += _("，签署时间：%(when)s") % {"when": when}
        problems = [str(PROBLEM_LABELS.get(code, code)) for code in entry.get("problems", [])]
        if problems:
            text += _("（%(problems)s）") % {"problems": "；".join(problems)}
        parts.append(text)
    reason = result.get("reason")
    if reason:
        parts.append(str(PROBLEM_LABELS.get(reason, reason)))
    if status == UNSIGNED and not parts:
        # Most uploads carry no electronic signature, and need none: say so, not only "未签名".
        parts.append(str(_("文件不含电子签名；普通扫描件无需电子签名，不影响受理")))
    label = status_label(result)
    return f"{label}：{'；'.join(parts)}" if parts else label


class SignedFile:
    """For models of stored files with a ``signature`` JSON field: the badge's label and sentence."""

    signature: Any

    @property
    def signature_label(self) -> str:
        """有效 / 警告 / 未签名 / 签章未验证, or "" for files that carry no signature (images, tables)."""
        return status_label(self.signature)

    @property
    def signature_text(self) -> str:
        return describe(self.signature)


def overall(entries: list[dict[str, Any]]) -> str:
    """The file's status from its signatures' entries: any problem warns; 有效 only when all are sound."""
    if not entries:
        return UNSIGNED
    problems = {code for e in entries for code in e.get("problems", [])}
    if problems - {"no_verifier"}:
        return WARNING
    if problems:
        return UNVERIFIED
    return VALID if all(e.get("intact") and e.get("trusted") for e in entries) else WARNING


def _result(kind: str, entries: list[dict[str, Any]], reason: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"status": overall(entries), "kind": kind, "signatures": entries}
    if reason:
        out["reason"] = reason
        if not entries:
            out["status"] = WARNING if reason != "no_verifier" else UNVERIFIED
    return out


def _verifier() -> Callable[..., list[dict[str, Any]]] | None:
    path = settings.SIGNATURE_VERIFIER
    return import_string(path) if path else None


def _plugged(content: bytes, kind: str) -> list[dict[str, Any]]:
    """Entries from the configured verifier; one 签章未验证 entry when none is configured."""
    verifier = _verifier()
    if verifier is None:
        return [_entry(seal="sm2", problems=["no_verifier"])]
    try:
        found = verifier(content, kind=kind)
    except Exception:
        logger.exception("signature verifier failed on a %s upload", kind)
        return [_entry(seal="sm2", problems=["verifier_failed"])]
    return [_entry(**{k: v for k, v in dict(e).items() if k in _ENTRY_KEYS}) for e in found][:MAX_SIGNATURES]


_ENTRY_KEYS = ("signer", "organization", "signed_at", "timestamped", "intact", "trusted", "seal", "problems")


def _entry(
    *,
    signer: str = "",
    organization: str = "",
    signed_at: str = "",
    timestamped: bool = False,
    intact: bool = False,
    trusted: bool = False,
    seal: str = "pades",
    problems: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "signer": str(signer)[:200],
        "organization": str(organization)[:200],
        "signed_at": str(signed_at),
        "timestamped": bool(timestamped),
        "intact": bool(intact),
        "trusted": bool(trusted),
        "seal": seal,
        "problems": [str(p) for p in (problems or [])],
    }


def _names(cert: Any) -> tuple[str, str]:
    subject = cert.subject.native if cert is not None else {}
    return str(subject.get("common_name", "")), str(subject.get("organization_name", ""))


def _is_gm(sig_object: Any) -> bool:
    """Whether a signature dictionary is an SM2 seal: an unknown sub-filter, or SM algorithm identifiers."""
    subfilter = str(sig_object.get("/SubFilter", ""))
    if subfilter not in PADES_SUBFILTERS:
        return True
    try:
        contents = bytes(sig_object.get("/Contents", b""))
    except (TypeError, ValueError):
        return False
    return GM_OID_PREFIX in contents


def _validation_context() -> Any:
    from pyhanko_certvalidator import ValidationContext

    return ValidationContext(trust_roots=_roots(), allow_fetching=False, revocation_mode="soft-fail")


def _roots() -> list[Any]:
    return trust_roots()


def _pades_entry(sig: Any, context: Any) -> dict[str, Any]:
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.settings import KeyUsageConstraints
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    usage = KeyUsageConstraints(key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False)
    status = validate_pdf_signature(sig, context, context, key_usage_settings=usage)
    signer, organization = _names(status.signing_cert)
    problems: list[str] = []
    if not status.intact:
        problems.append("modified")
    elif not status.valid:
        problems.append("invalid")
    elif status.coverage != SignatureCoverageLevel.ENTIRE_FILE and (
        status.docmdp_ok is False
        or status.modification_level not in (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES)
    ):
        problems.append("modified")
    # Trust is only judged for intact signatures; a modified file needs no second reason.
    if status.revoked:
        problems.append("revoked")
    elif status.intact and not status.trusted:
        problems.append("untrusted")
    stamp = status.timestamp_validity
    when = stamp.timestamp if stamp is not None and stamp.intact and stamp.valid else status.signer_reported_dt
    return _entry(
        signer=signer,
        organization=organization,
        signed_at=when.isoformat() if when is not None else "",
        timestamped=stamp is not None and bool(stamp.intact and stamp.valid),
        intact=bool(status.intact) and "modified" not in problems,
        trusted=bool(status.trusted),
        problems=problems,
    )


def _signed_fields(content: bytes) -> list[tuple[Any, str, Any]] | None:
    """Each filled signature field as (reader, name, field), or ``None`` when pyHanko cannot read the file.

    Fields are listed here rather than by pyHanko's ``embedded_signatures``, which skips signatures
    of sub-filters it does not know (an SM2 seal would read as unsigned) and fails on the whole file
    when one signature's CMS does not parse.
    """
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import enumerate_sig_fields

    try:
        reader = PdfFileReader(io.BytesIO(content), strict=False)
        return [(reader, name, field) for name, _value, field in enumerate_sig_fields(reader, filled_status=True)]
    except Exception as exc:
        logger.info("PDF structure unreadable for signatures: %r", exc)
        return None


def _one(content: bytes, reader: Any, name: str, field: Any, context: Any) -> tuple[list[dict[str, Any]], Any]:
    """The entries of one signature field (an SM2 seal's verifier may report several) and the context."""
    from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

    sig_object = field.get_object()["/V"].get_object()
    if _is_gm(sig_object):
        return _plugged(content, "sm2"), context
    try:
        sig = EmbeddedPdfSignature(reader, field, name)
    except Exception as exc:
        logger.info("unreadable PDF signature: %r", exc)
        return [_entry(problems=["unreadable"])], context
    try:
        if context is None:
            context = _validation_context()
        return [_pades_entry(sig, context)], context
    except Exception as exc:
        logger.info("PDF signature could not be validated: %r", exc)
        try:
            signer, organization = _names(sig.signer_cert)
        except Exception:
            signer, organization = "", ""
        return [_entry(signer=signer, organization=organization, problems=["unreadable"])], context


def check_pdf(content: bytes) -> dict[str, Any]:
    fields = _signed_fields(content)
    if fields is None:
        # pikepdf accepted the file (it repairs), pyHanko cannot read its structure.
        if b"/ByteRange" in content:
            return _result("pdf", [], reason="broken_pdf")
        return {"status": UNSIGNED, "kind": "pdf", "signatures": [], "reason": "broken_pdf"}
    deadline = time.monotonic() + settings.SIGNATURE_CHECK_SECONDS
    entries: list[dict[str, Any]] = []
    context = None
    for index, (reader, name, field) in enumerate(fields):
        if index >= MAX_SIGNATURES or time.monotonic() > deadline:
            entries.append(_entry(problems=["timeout"]))
            break
        try:
            found, context = _one(content, reader, name, field, context)
        except Exception as exc:
            logger.info("unreadable PDF signature field: %r", exc)
            found = [_entry(problems=["unreadable"])]
        entries.extend(found)
    return _result("pdf", entries)


def check_ofd(content: bytes) -> dict[str, Any]:
    entries = _plugged(content, "ofd")
    if entries and entries[0]["problems"] == ["no_verifier"]:
        return _result("ofd", [], reason="no_verifier")
    return _result("ofd", entries)


def check_signatures(content: bytes, mime: str) -> dict[str, Any]:
    """The signature result of an upload's content; ``{}`` for types that carry none (images, tables)."""
    if mime == PDF:
        return check_pdf(content)
    if mime == OFD:
        return check_ofd(content)
    return {}
