"""The signing key set-up and the upload signature check at their edges: configured certificates,
SM2 seals and the pluggable verifier, broken signatures and the time bound."""

from __future__ import annotations

import io
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from cryptography.hazmat.primitives import serialization

from core import signatures, signing
from core.filetypes import DOCUMENT_TYPES
from core.uploads import check_upload
from testing.fixtures import ofd_bytes, pdf_bytes, signed_pdf, upload

# The DER of OID 1.2.156.10197.1.501 (SM2 signature with SM3), as a GB/T 38540 seal carries it.
SM2_WITH_SM3 = b"\x30\x0a\x06\x08\x2a\x81\x1c\xcf\x55\x01\x83\x75"


def sealed_pdf(subfilter: str, contents: bytes) -> bytes:
    """A PDF with one filled signature field whose dictionary has ``subfilter`` and ``contents``."""
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(200, 200))
    value = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Sig,
            Filter=pikepdf.Name("/Adobe.PPKLite"),
            SubFilter=pikepdf.Name(subfilter),
            ByteRange=pikepdf.Array([0, 10, 20, 10]),
            Contents=pikepdf.String(contents),
        )
    )
    field = pdf.make_indirect(
        pikepdf.Dictionary(
            FT=pikepdf.Name.Sig,
            T=pikepdf.String("Seal1"),
            V=value,
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.Widget,
            Rect=pikepdf.Array([0, 0, 0, 0]),
            P=pdf.pages[0].obj,
        )
    )
    pdf.pages[0].obj.Annots = pdf.make_indirect(pikepdf.Array([field]))
    pdf.Root.AcroForm = pdf.make_indirect(pikepdf.Dictionary(Fields=pikepdf.Array([field]), SigFlags=3))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def checked(name: str, content: bytes) -> dict[str, Any]:
    return check_upload(upload(name, content), DOCUMENT_TYPES).signature


def sound_seal(content: bytes, *, kind: str) -> list[dict[str, Any]]:
    """A verifier plugged in by ``SIGNATURE_VERIFIER`` that finds one sound seal."""
    return [{"signer": f"{kind} seal", "organization": "SM2 Org", "intact": True, "trusted": True, "seal": "sm2"}]


def test_it_creates_the_development_keys_readable_by_their_owner_only(settings: Any, tmp_path: Path) -> None:
    settings.SIGNING_DEV_DIR = tmp_path / "signing"
    folder = signing.ensure_dev_ca()
    for name in (signing.CA_KEY, signing.SIGNER_KEY, signing.TSA_KEY):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    first = (folder / signing.CA_CERT).read_bytes()
    assert signing.ensure_dev_ca() == folder
    assert (folder / signing.CA_CERT).read_bytes() == first


@contextmanager
def loopback_tsa() -> Iterator[str]:
    """An RFC 3161 timestamp service on loopback, answering with the development TSA certificate."""
    from asn1crypto import tsp

    timestamper = signing._load_dev().timestamper

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = tsp.TimeStampReq.load(self.rfile.read(int(self.headers["Content-Length"])))
            body = timestamper.request_tsa_response(request).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_it_signs_with_the_configured_certificate_and_timestamp_service_and_checks_the_trust_list(
    settings: Any, tmp_path: Path
) -> None:
    ca_key = signing.new_key()
    ca = signing.issue_certificate(common_name="Center Root", organization="Center", key=ca_key, ca=True)
    key = signing.new_key()
    cert = signing.issue_certificate(
        common_name="Center Seal", organization="Center", key=key, issuer_cert=ca, issuer_key=ca_key
    )
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "seal.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "seal.key").write_bytes(signing._key_pem(key))
    settings.SIGNING_CERT = str(tmp_path / "seal.pem")
    settings.SIGNING_KEY = str(tmp_path / "seal.key")
    settings.SIGNING_CHAIN = [str(tmp_path / "ca.pem")]
    settings.SIGNATURE_TRUST_ROOTS = [str(tmp_path / "ca.pem")]
    with loopback_tsa() as url:
        settings.SIGNING_TSA_URL = url
        content = signing.sign_pdf(pdf_bytes())
    result = signatures.check_pdf(content)
    assert result["status"] == signatures.VALID
    assert result["signatures"][0]["signer"] == "Center Seal"
    assert result["signatures"][0]["timestamped"] is True
    # Without the development CA in the trust list, its signatures warn.
    settings.SIGNATURE_TRUST_DEV_CA = False
    assert signatures.check_pdf(signed_pdf())["signatures"][0]["problems"] == ["untrusted"]


def test_it_reads_an_sm2_seal_as_not_verified_never_valid() -> None:
    for subfilter, contents in (("/GB.T38540", b"\x30\x03\x02\x01\x01"), ("/adbe.pkcs7.detached", SM2_WITH_SM3)):
        result = checked("seal.pdf", sealed_pdf(subfilter, contents))
        assert result["status"] == signatures.UNVERIFIED
        assert result["signatures"][0]["seal"] == "sm2"
        assert signatures.describe(result).startswith("签章未验证")


def test_it_hands_sm2_seals_and_ofd_files_to_the_configured_verifier(settings: Any) -> None:
    settings.SIGNATURE_VERIFIER = f"{__name__}.sound_seal"
    pdf = checked("seal.pdf", sealed_pdf("/GB.T38540", SM2_WITH_SM3))
    assert pdf["status"] == signatures.VALID
    assert pdf["signatures"][0]["signer"] == "sm2 seal"
    ofd = checked("licence.ofd", ofd_bytes())
    assert (ofd["status"], ofd["kind"], ofd["signatures"][0]["signer"]) == (signatures.VALID, "ofd", "ofd seal")


def test_it_warns_of_a_signature_that_does_not_parse_without_failing_the_upload() -> None:
    result = checked("broken.pdf", sealed_pdf("/adbe.pkcs7.detached", b"\x30\x03\x02\x01\x01"))
    assert result["status"] == signatures.WARNING
    assert result["signatures"][0]["problems"] == ["unreadable"]
    assert "签名无法读取" in signatures.describe(result)


def test_it_stops_checking_signatures_after_the_time_bound(settings: Any) -> None:
    settings.SIGNATURE_CHECK_SECONDS = -1
    result = signatures.check_pdf(signed_pdf())
    assert result["status"] == signatures.WARNING
    assert result["signatures"][0]["problems"] == ["timeout"]


def test_it_refuses_a_zip_that_is_not_an_ofd() -> None:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("Doc_0/Document.xml", "<x/>")
    with pytest.raises(Exception, match="不是允许的类型"):
        check_upload(upload("fake.ofd", out.getvalue()), DOCUMENT_TYPES)


def test_it_warns_of_a_page_changed_in_an_update_appended_after_signing() -> None:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(signed_pdf()), strict=False)
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    page["/Contents"] = writer.add_object(generic.StreamObject(stream_data=b"BT 10 10 Td (changed) Tj ET"))
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    result = signatures.check_pdf(out.getvalue())
    assert result["status"] == signatures.WARNING
    assert result["signatures"][0]["problems"] == ["modified"]
    assert result["signatures"][0]["signer"] == "星河影业电子签章"
