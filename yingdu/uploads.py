"""Checks and storage for uploaded files (SECURITY.md rows 15–17).

Types are sniffed from the content, never the name; a PDF must parse and may not
carry JavaScript; images are re-encoded so EXIF and appended payloads are dropped.
Files are stored under generated names in MEDIA_ROOT, which no URL serves.
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import filetype
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse
from django.utils.translation import gettext as _

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCUMENT_TYPES = frozenset({PDF, JPEG, PNG})
TABLE_TYPES = frozenset({CSV, XLSX})
EXTENSIONS = {PDF: "pdf", JPEG: "jpg", PNG: "png", CSV: "csv", XLSX: "xlsx"}
TYPE_LABELS = {PDF: "PDF", JPEG: "JPEG", PNG: "PNG", CSV: "CSV", XLSX: "XLSX"}


@dataclass(frozen=True)
class CheckedUpload:
    content: bytes
    mime: str
    sha256: str
    original_name: str
    flags: tuple[str, ...] = ()

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.mime]


def safe_filename(name: str) -> str:
    """The original name, reduced to something harmless to show and to put in a header."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable() and ch not in '"<>:|?*\r\n\t')
    cleaned = cleaned.strip(" .") or "file"
    return cleaned[:120]


def _looks_like_csv(content: bytes) -> bool:
    try:
        text = content[:65536].decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    if "\x00" in text or "<" in text[:200].lstrip()[:1]:
        return False
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error:
        return False
    return bool(rows) and len(rows[0]) >= 2


def sniff(content: bytes) -> str | None:
    """The MIME type the bytes really are, among those the platform accepts; ``None`` otherwise."""
    kind = filetype.guess(content)
    if kind is not None:
        if kind.mime == "application/zip" or kind.mime == XLSX:
            return XLSX if b"xl/" in content[:4096] or b"[Content_Types].xml" in content[:4096] else None
        if kind.mime in (PDF, JPEG, PNG):
            return kind.mime
        return None
    if _looks_like_csv(content):
        return CSV
    return None


def _check_pdf(content: bytes) -> tuple[str, ...]:
    import pikepdf

    try:
        with pikepdf.open(io.BytesIO(content)) as pdf:
            flags: list[str] = []
            root = pdf.Root
            names = root.get("/Names")
            if "/OpenAction" in root or "/AA" in root or (names is not None and "/JavaScript" in names):
                flags.append("pdf_javascript")
            if names is not None and "/EmbeddedFiles" in names:
                flags.append("pdf_embedded_files")
            return tuple(flags)
    except pikepdf.PasswordError as exc:
        raise ValidationError(_("PDF 文件已加密，请上传未加密的文件"), code="pdf_encrypted") from exc
    except pikepdf.PdfError as exc:
        raise ValidationError(_("PDF 文件已损坏或不是有效的 PDF"), code="pdf_invalid") from exc


def _reencode_image(content: bytes, mime: str) -> bytes:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(content)) as image:
            image.load()
            out = io.BytesIO()
            # Saving without exif=/pnginfo= drops EXIF (GPS included), text chunks and trailing bytes.
            if mime == JPEG:
                image.convert("RGB").save(out, format="JPEG", quality=92)
            else:
                image.save(out, format="PNG")
            return out.getvalue()
    except (UnidentifiedImageError, OSError) as exc:
        raise ValidationError(_("图片文件已损坏或无法识别"), code="image_invalid") from exc


def check_upload(upload: UploadedFile, allowed: frozenset[str] = DOCUMENT_TYPES) -> CheckedUpload:
    """Validate one uploaded file and return its cleaned bytes, or raise a Chinese ``ValidationError``."""
    name = safe_filename(upload.name or "file")
    limit = settings.UPLOAD_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        raise ValidationError(
            _("文件“%(name)s”超过 %(mb)d MB 的大小限制") % {"name": name, "mb": limit // (1024 * 1024)},
            code="too_large",
        )
    content = upload.read(limit + 1)
    if len(content) > limit:
        raise ValidationError(
            _("文件“%(name)s”超过 %(mb)d MB 的大小限制") % {"name": name, "mb": limit // (1024 * 1024)},
            code="too_large",
        )
    if not content:
        raise ValidationError(_("文件“%(name)s”是空文件") % {"name": name}, code="empty")
    mime = sniff(content)
    allowed_text = "、".join(TYPE_LABELS[m] for m in sorted(allowed, key=list(TYPE_LABELS).index))
    if mime is None or mime not in allowed:
        raise ValidationError(
            _("文件“%(name)s”的内容不是允许的类型（%(types)s），已拒收")
            % {"name": name, "types": allowed_text},
            code="bad_type",
        )
    flags: tuple[str, ...] = ()
    if mime == PDF:
        flags = _check_pdf(content)
        if "pdf_javascript" in flags:
            raise ValidationError(
                _("PDF 文件“%(name)s”含有脚本，已拒收") % {"name": name}, code="pdf_javascript"
            )
    elif mime in (JPEG, PNG):
        content = _reencode_image(content, mime)
    return CheckedUpload(
        content=content,
        mime=mime,
        sha256=hashlib.sha256(content).hexdigest(),
        original_name=name,
        flags=flags,
    )


def generated_path(prefix: str, extension: str, today: date | None = None) -> str:
    """A storage path with no part taken from the user: ``prefix/2026/11/<uuid>.ext``."""
    day = today or date.today()  # noqa: DTZ011 - only used to spread files over folders
    return f"{prefix}/{day:%Y/%m}/{uuid.uuid4().hex}.{extension}"


class StoredFiles:
    """Files one action stores; :func:`stored_files` removes them all when the action fails."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def save(self, prefix: str, upload: CheckedUpload, today: date | None = None) -> str:
        """Store ``upload`` under a generated name (never the user's) and return its path."""
        path = default_storage.save(generated_path(prefix, upload.extension, today), ContentFile(upload.content))
        self.paths.append(path)
        return path

    def remove(self) -> None:
        for path in self.paths:
            default_storage.delete(path)
        self.paths.clear()


@contextmanager
def stored_files() -> Iterator[StoredFiles]:
    """Store an action's files so that a refusal or an error leaves none behind.

    Put the action's transaction inside: ``with stored_files() as files, transaction.atomic(): ...``;
    when anything raises (a refusal, a constraint at commit), the files stored so far are deleted.
    """
    files = StoredFiles()
    try:
        yield files
    except BaseException:
        files.remove()
        raise


def stored_file_response(
    path: str, *, content_type: str, filename: str, inline: bool = False
) -> FileResponse:
    """Serve a stored upload to a caller the view has already authorised (SECURITY.md #16).

    Attachment disposition unless ``inline`` (images and PDFs shown to those allowed), the
    sniffed content type, and ``nosniff`` so a browser never second-guesses it.
    """
    response = FileResponse(
        default_storage.open(path, "rb"),
        content_type=content_type,
        as_attachment=not inline,
        filename=safe_filename(filename),
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
