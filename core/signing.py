"""The center's signature on the PDFs the platform issues (PAdES, with a timestamp).

Every issued PDF (the 申请表, the approval form with the three opinions, data notices, clawback
decisions) goes through :func:`sign_pdf`; :func:`render_signed_pdf` renders HTML with WeasyPrint
and signs it in one step.

Production names the center's certificate and key by settings (``SIGNING_CERT``,
``SIGNING_KEY``, optional ``SIGNING_KEY_PASSPHRASE``, ``SIGNING_CHAIN`` and ``SIGNING_TSA_URL``;
see README "配置"). Without them the platform makes its own development CA on first use under
``YINGDU_VAR_DIR/signing/`` (keys mode 600): a root, a signing certificate issued by it, and a
timestamping certificate used by an in-process timestamper, so signing works offline.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    from django.http import HttpResponse

# Files of the development CA under ``SIGNING_DEV_DIR``.
CA_KEY, CA_CERT = "ca.key", "ca.pem"
SIGNER_KEY, SIGNER_CERT = "signer.key", "signer.pem"
TSA_KEY, TSA_CERT = "tsa.key", "tsa.pem"
DEV_ORGANIZATION = "Yingdu Compute Subsidy Platform (development)"
DEV_YEARS = 10

_lock = threading.Lock()
_cache: dict[str, Signing] = {}


@dataclass(frozen=True)
class Signing:
    """What signing needs, loaded once per process."""

    signer: Any  # pyhanko.sign.signers.Signer
    timestamper: Any  # pyhanko.sign.timestamps.TimeStamper


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file readable by its owner only; a file already there wins."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def new_key(*, rsa: bool = False) -> Any:
    """An ECDSA P-256 key, or RSA-2048 where pyHanko's in-process timestamper needs one."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric import rsa as rsa_keys

    if rsa:
        return rsa_keys.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def issue_certificate(
    *,
    common_name: str,
    organization: str,
    key: Any,
    issuer_cert: Any | None = None,
    issuer_key: Any | None = None,
    ca: bool = False,
    timestamping: bool = False,
    years: int = DEV_YEARS,
) -> Any:
    """A ``cryptography`` certificate for ``key``; self-signed when no issuer is given.

    Used for the development CA and, in tests and the demo, for the signers of sample uploads.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    issuer_name = issuer_cert.subject if issuer_cert is not None else subject
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # Valid from years back, so documents dated by tests that pin the clock still validate.
        .not_valid_before(now - dt.timedelta(days=365 * 5))
        .not_valid_after(now + dt.timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer_cert is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key()), critical=False
        )
    if ca:
        usage = {"key_cert_sign": True, "crl_sign": True, "digital_signature": False, "content_commitment": False}
    else:
        usage = {"key_cert_sign": False, "crl_sign": False, "digital_signature": True, "content_commitment": True}
    builder = builder.add_extension(
        x509.KeyUsage(
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            encipher_only=False,
            decipher_only=False,
            **usage,
        ),
        critical=True,
    )
    if timestamping:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    return builder.sign(issuer_key if issuer_key is not None else key, hashes.SHA256())


def _cert_pem(cert: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(cert.public_bytes(serialization.Encoding.PEM))


def dev_dir() -> Path:
    return Path(settings.SIGNING_DEV_DIR)


def ensure_dev_ca() -> Path:
    """Create the development CA, signing and timestamping certificates if missing; return their folder."""
    folder = dev_dir()
    if all((folder / name).exists() for name in (CA_KEY, CA_CERT, SIGNER_KEY, SIGNER_CERT, TSA_KEY, TSA_CERT)):
        return folder
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca_key, signer_key, tsa_key = new_key(), new_key(), new_key(rsa=True)
    ca_cert = issue_certificate(
        common_name="Yingdu Development Root CA", organization=DEV_ORGANIZATION, key=ca_key, ca=True
    )
    signer_cert = issue_certificate(
        common_name="Yingdu Center Document Signing (development)",
        organization=DEV_ORGANIZATION,
        key=signer_key,
        issuer_cert=ca_cert,
        issuer_key=ca_key,
    )
    tsa_cert = issue_certificate(
        common_name="Yingdu Timestamping (development)",
        organization=DEV_ORGANIZATION,
        key=tsa_key,
        issuer_cert=ca_cert,
        issuer_key=ca_key,
        timestamping=True,
    )
    # Keys first, the CA certificate last: a folder with ca.pem is complete.
    for name, data in (
        (SIGNER_KEY, _key_pem(signer_key)),
        (TSA_KEY, _key_pem(tsa_key)),
        (CA_KEY, _key_pem(ca_key)),
        (SIGNER_CERT, _cert_pem(signer_cert)),
        (TSA_CERT, _cert_pem(tsa_cert)),
        (CA_CERT, _cert_pem(ca_cert)),
    ):
        if not (folder / name).exists():
            _write_private(folder / name, data)
    return folder


def dev_ca() -> tuple[Any, Any]:
    """The development CA's ``cryptography`` certificate and key (created if missing)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    folder = ensure_dev_ca()
    cert = x509.load_pem_x509_certificate((folder / CA_CERT).read_bytes())
    key = load_pem_private_key((folder / CA_KEY).read_bytes(), password=None)
    return cert, key


def signer_for(cert: Any, key: Any, chain: tuple[Any, ...] = ()) -> Any:
    """A pyHanko signer from ``cryptography`` objects: the signing certificate, its key and chain."""
    from asn1crypto import keys, x509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    def asn1(c: Any) -> Any:
        return x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))

    der_key = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return signers.SimpleSigner(
        signing_cert=asn1(cert),
        signing_key=keys.PrivateKeyInfo.load(der_key),
        cert_registry=SimpleCertificateStore.from_certs([asn1(c) for c in chain]),
    )


def _load_dev() -> Signing:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from pyhanko.keys import load_cert_from_pemder, load_private_key_from_pemder
    from pyhanko.sign.timestamps import DummyTimeStamper
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    folder = ensure_dev_ca()
    ca_cert, _ca_key = dev_ca()
    signer = signer_for(
        x509.load_pem_x509_certificate((folder / SIGNER_CERT).read_bytes()),
        load_pem_private_key((folder / SIGNER_KEY).read_bytes(), password=None),
        (ca_cert,),
    )
    ca = load_cert_from_pemder(str(folder / CA_CERT))
    tsa_cert = load_cert_from_pemder(str(folder / TSA_CERT))
    timestamper = DummyTimeStamper(
        tsa_cert=tsa_cert,
        tsa_key=load_private_key_from_pemder(str(folder / TSA_KEY), passphrase=None),
        certs_to_embed=SimpleCertificateStore.from_certs([ca, tsa_cert]),
    )
    return Signing(signer=signer, timestamper=timestamper)


def _load_configured() -> Signing:
    from pyhanko.sign import signers
    from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper

    passphrase = settings.SIGNING_KEY_PASSPHRASE.encode() if settings.SIGNING_KEY_PASSPHRASE else None
    signer = signers.SimpleSigner.load(
        settings.SIGNING_KEY,
        settings.SIGNING_CERT,
        ca_chain_files=tuple(settings.SIGNING_CHAIN) or None,
        key_passphrase=passphrase,
    )
    if signer is None:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("SIGNING_CERT / SIGNING_KEY could not be loaded")
    timestamper = RequestsHTTPTimeStamper(settings.SIGNING_TSA_URL) if settings.SIGNING_TSA_URL else None
    return Signing(signer=signer, timestamper=timestamper)


def signing() -> Signing:
    """The configured signer and timestamper (the development CA when none is configured)."""
    cache_key = f"{settings.SIGNING_CERT}|{settings.SIGNING_KEY}|{settings.SIGNING_DEV_DIR}"
    found = _cache.get(cache_key)
    if found is not None:
        return found
    with _lock:
        found = _cache.get(cache_key)
        if found is None:
            found = _load_configured() if settings.SIGNING_CERT else _load_dev()
            _cache[cache_key] = found
    return found


def sign_pdf(content: bytes, *, reason: str = "", signer: Any | None = None, timestamper: Any = None) -> bytes:
    """``content`` signed as PAdES (B-T when a timestamper is at hand) by the center.

    ``signer``/``timestamper`` override the configured ones (tests sign sample uploads this way).
    """
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter

    if signer is None:
        configured = signing()
        signer, timestamper = configured.signer, configured.timestamper
    meta = signers.PdfSignatureMetadata(
        field_name="Signature1",
        md_algorithm="sha256",
        subfilter=SigSeedSubFilter.PADES,
        reason=reason or None,
        location=settings.SIGNING_LOCATION or None,
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(content), strict=False)
    pdf_signer = signers.PdfSigner(meta, signer=signer, timestamper=timestamper)
    out = _outside_event_loop(lambda: pdf_signer.sign_pdf(writer))
    return bytes(out.getvalue())


def _outside_event_loop(work: Any) -> Any:
    """pyHanko signs through ``asyncio.run``, which refuses to run inside a running event loop (a
    command called from asynchronous code, such as the demo loaded by a browser test): there the
    signing runs on a thread of its own. It touches no database."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return work()
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result()


def render_signed_pdf(html: str, *, reason: str = "") -> bytes:
    """HTML rendered by WeasyPrint (fonts embedded) and signed by the center."""
    from weasyprint import HTML

    pdf = bytes(HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf())
    return sign_pdf(pdf, reason=reason)


def trust_roots() -> list[Any]:
    """The asn1crypto certificates uploads' signatures are checked against (``SIGNATURE_TRUST_ROOTS``).

    Each entry is a PEM/DER file (a bundle may hold several certificates) or a folder of them;
    the development CA is trusted unless ``SIGNATURE_TRUST_DEV_CA`` is off (the default in production).
    """
    from asn1crypto import pem, x509

    roots: list[Any] = []
    files: list[Path] = []
    for entry in settings.SIGNATURE_TRUST_ROOTS:
        path = Path(entry)
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.is_file()))
        elif path.is_file():
            files.append(path)
    if settings.SIGNATURE_TRUST_DEV_CA:
        files.append(ensure_dev_ca() / CA_CERT)
    for path in files:
        data = path.read_bytes()
        blobs = [der for _name, _headers, der in pem.unarmor(data, multiple=True)] if pem.detect(data) else [data]
        for der in blobs:
            try:
                roots.append(x509.Certificate.load(der))
            except ValueError:
                continue
    return roots


def issued_pdf_response(content: bytes, filename: str) -> HttpResponse:
    """An issued (signed) PDF as a download: attachment, its name in the header, ``nosniff``."""
    from django.http import HttpResponse
    from django.utils.http import content_disposition_header

    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(True, filename) or "attachment"
    response["X-Content-Type-Options"] = "nosniff"
    return response
