"""Checks and storage for uploaded files (docs/security.md).

Types are sniffed from the content, never the name; a PDF must parse and may not
carry active content anywhere; images are re-encoded so EXIF and appended payloads are
dropped, after their pixel count is checked; tables are bounded before they are read; an OFD
is a zip with ``OFD.xml`` at its root. The digital signatures of PDFs and OFDs are checked and the
result kept with the upload (``core.signatures``). Files are stored under generated names in MEDIA_ROOT, which no URL serves.
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import filetype
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse
from django.utils.translation import gettext as _

from core.filetypes import (
    CSV,
    DOCUMENT_TYPES,
    EXTENSIONS,
    JPEG,
    JSON,
    OFD,
    OFD_MAX_ENTRIES,
    PDF,
    PNG,
    TABLE_MAX_ROWS,
    TYPE_LABELS,
    XLSX,
)
from core.signatures import check_signatures
from core.xlsx import check_workbook_bounds


@dataclass(frozen=True)
class CheckedUpload:
    content: bytes
    mime: str
    sha256: str
    original_name: str
    flags: tuple[str, ...] = ()
    # What the file's digital signatures say (``core.signatures``); empty for images and tables.
    signature: dict[str, Any] = field(default_factory=dict)

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
        first = next(csv.reader(io.StringIO(text)), None)
    except csv.Error:
        return False
    return first is not None and len(first) >= 2


def _is_ofd(content: bytes) -> bool:
    """A zip whose root holds ``OFD.xml``; only the central directory is read, nothing inflated."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return False
    return len(infos) <= OFD_MAX_ENTRIES and any(info.filename == "OFD.xml" for info in infos)


def sniff(content: bytes) -> str | None:
    """The MIME type the bytes really are, among those the platform accepts; ``None`` otherwise."""
    kind = filetype.guess(content)
    if kind is not None:
        if kind.mime == "application/zip" or kind.mime == XLSX:
            if b"xl/" in content[:4096] or b"[Content_Types].xml" in content[:4096]:
                return XLSX
            return OFD if _is_ofd(content) else None
        if kind.mime in (PDF, JPEG, PNG):
            return str(kind.mime)
        return None
    if _looks_like_json(content):
        return JSON
    if _looks_like_csv(content):
        return CSV
    return None


def _looks_like_json(content: bytes) -> bool:
    """A JSON document, or JSON lines whose first line is an object (vendor usage exports)."""
    import json

    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    if not text.lstrip().startswith(("{", "[")):
        return False
    try:
        json.loads(text)
        return True
    except ValueError:
        first = next((line for line in text.splitlines() if line.strip()), "")
        try:
            return isinstance(json.loads(first), dict)
        except ValueError:
            return False


# Bounds checked before a file is decoded or parsed (decompression bombs, docs/security.md).
# An image may have this many pixels (6,000 × 6,000; an A4 page scanned at 600 dpi is
# 35 million); decoding takes 3–4 bytes a pixel.
IMAGE_MAX_PIXELS = 36_000_000
# A zip (an OFD, a workbook) may unpack to this much in all, and, once it unpacks to more than
# ZIP_RATIO_FROM bytes, to at most ZIP_MAX_RATIO times its own size (text compresses 5–20 times).
ZIP_MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
ZIP_MAX_RATIO = 200
ZIP_RATIO_FROM = 4 * 1024 * 1024
# PDF objects looked at for active content; a legitimate licence scan has a few hundred.
PDF_MAX_OBJECTS = 200_000

# Actions that run something or reach outside the document: scripts, programs, form submission,
# embedded media, jumps into other files (a network share's, too).
ACTIVE_ACTIONS = frozenset(
    {
        "/JavaScript",
        "/Launch",
        "/SubmitForm",
        "/ImportData",
        "/RichMediaExecute",
        "/GoToE",
        "/GoToR",
        "/Rendition",
    }
)
# The only address schemes a link (/URI action) may open.
SAFE_URI_SCHEMES = ("http://", "https://", "mailto:")
ACTIVE_ANNOTATIONS = frozenset({"/FileAttachment", "/RichMedia", "/Movie", "/Sound", "/Screen", "/3D"})


def _too_large_error(name: str, what: str, limit: int, code: str) -> ValidationError:
    return ValidationError(
        _("文件“%(name)s”%(what)s超过限制（至多 %(limit)s），已拒收")
        % {"name": name, "what": what, "limit": f"{limit:,}"},
        code=code,
    )


class _PdfScanner:
    """Finds active content anywhere a viewer would run it: the catalog's open action and
    additional actions, every page's /AA, every annotation's /A and /AA (link, widget,
    screen), AcroForm fields and their kids, XFA forms, the names tree's JavaScript and
    embedded files. Each object is visited once, so reference cycles end."""

    def __init__(self) -> None:
        self.seen: set[tuple[int, int]] = set()
        self.visited = 0
        self.reasons: list[str] = []

    def _first_visit(self, obj: Any) -> bool:
        self.visited += 1
        if self.visited > PDF_MAX_OBJECTS:
            raise OverflowError
        if getattr(obj, "is_indirect", False):
            key = obj.objgen
            if key in self.seen:
                return False
            self.seen.add(key)
        return True

    def reason(self, text: str) -> None:
        if text not in self.reasons:
            self.reasons.append(text)

    def action(self, action: Any, where: str) -> None:
        """An action dictionary (or an array of them, via /Next)."""
        import pikepdf

        if isinstance(action, pikepdf.Array):
            for item in action:
                self.action(item, where)
            return
        if not isinstance(action, pikepdf.Dictionary) or not self._first_visit(action):
            return
        why = _active_action(action)
        if why is not None:
            self.reason(f"{where}：{why}")
        if "/Next" in action:
            self.action(action.Next, where)

    def additional_actions(self, holder: Any, where: str) -> None:
        import pikepdf

        aa = holder.get("/AA")
        if isinstance(aa, pikepdf.Dictionary):
            for key in list(aa.keys()):
                self.action(aa[key], where)

    def field(self, field: Any) -> None:
        import pikepdf

        if not isinstance(field, pikepdf.Dictionary) or not self._first_visit(field):
            return
        self.additional_actions(field, str(_("表单字段含自动执行的动作")))
        if "/A" in field:
            self.action(field.A, str(_("表单字段含脚本动作")))
        for kid in field.get("/Kids", []):
            self.field(kid)

    def names(self, node: Any, where: str) -> bool:
        """Whether a name tree (``/Names`` pairs, ``/Kids``) has any leaf at all."""
        import pikepdf

        if not isinstance(node, pikepdf.Dictionary) or not self._first_visit(node):
            return False
        found = len(node.get("/Names", [])) > 0
        for kid in node.get("/Kids", []):
            found = self.names(kid, where) or found
        return found

    def scan(self, pdf: Any) -> list[str]:
        import pikepdf

        root = pdf.Root
        # An /OpenAction may also be a plain destination (page and zoom), which is harmless.
        open_action = root.get("/OpenAction")
        if isinstance(open_action, pikepdf.Dictionary):
            self.action(open_action, str(_("打开文档时执行脚本")))
        self.additional_actions(root, str(_("文档含自动执行的动作")))
        names = root.get("/Names")
        if isinstance(names, pikepdf.Dictionary):
            if "/JavaScript" in names and self.names(names.JavaScript, "js"):
                self.reason(str(_("文档名称树含脚本")))
            if "/EmbeddedFiles" in names and self.names(names.EmbeddedFiles, "files"):
                self.reason(str(_("含嵌入文件")))
        acroform = root.get("/AcroForm")
        if isinstance(acroform, pikepdf.Dictionary):
            if "/XFA" in acroform:
                self.reason(str(_("含 XFA 动态表单")))
            for field in acroform.get("/Fields", []):
                self.field(field)
        for page in pdf.pages:
            page_obj = page.obj
            if not self._first_visit(page_obj):
                continue
            self.additional_actions(page_obj, str(_("页面含自动执行的动作")))
            for annotation in page_obj.get("/Annots", []):
                if not isinstance(annotation, pikepdf.Dictionary) or not self._first_visit(annotation):
                    continue
                if str(annotation.get("/Subtype", "")) in ACTIVE_ANNOTATIONS:
                    self.reason(str(_("注释含嵌入文件或多媒体")))
                if "/A" in annotation:
                    self.action(annotation.A, str(_("注释或链接含脚本、启动程序等动作")))
                self.additional_actions(annotation, str(_("注释或表单控件含自动执行的动作")))
        return self.reasons


def _active_action(action: Any) -> str | None:
    """Why an action dictionary is active, or None for a harmless one (a page, a web link)."""
    kind = str(action.get("/S", ""))
    if "/JS" in action or kind == "/JavaScript":
        return str(_("含脚本（JavaScript）"))
    if kind == "/Launch":
        return str(_("含启动程序的动作"))
    if kind in ("/GoToR", "/GoToE"):
        return str(_("含跳转到其他文件的动作"))
    if kind == "/URI":
        uri = "".join(str(action.get("/URI", "")).split()).lower()
        if not uri.startswith(SAFE_URI_SCHEMES):
            return str(_("链接指向脚本、本机或网络共享的地址"))
        return None
    if kind in ACTIVE_ACTIONS:
        return str(_("含提交表单、导入数据或播放多媒体的动作"))
    return None


def _walk_graph(pdf: Any) -> list[str]:
    """Every dictionary reachable from the document's trailer, each object once: actions wherever
    they hang (outline items, annotations, a widget's parent fields, name trees), embedded files
    and active annotations. Bounded by ``PDF_MAX_OBJECTS``; stream data is never read."""
    import pikepdf

    reasons: list[str] = []
    seen: set[tuple[int, int]] = set()
    stack: list[Any] = [pdf.trailer]
    visited = 0
    while stack:
        obj = stack.pop()
        visited += 1
        if visited > PDF_MAX_OBJECTS:
            raise OverflowError
        if getattr(obj, "is_indirect", False):
            if obj.objgen in seen:
                continue
            seen.add(obj.objgen)
        if isinstance(obj, pikepdf.Array):
            stack.extend(
                item for item in obj if isinstance(item, pikepdf.Array | pikepdf.Dictionary | pikepdf.Stream)
            )
            continue
        if not isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
            continue
        found = None
        if "/S" in obj or "/JS" in obj:
            found = _active_action(obj)
        if found is None and "/EF" in obj:
            found = str(_("含嵌入文件"))
        if found is None and str(obj.get("/Subtype", "")) in ACTIVE_ANNOTATIONS:
            found = str(_("注释含嵌入文件或多媒体"))
        if found is not None and found not in reasons:
            reasons.append(found)
        for key in list(obj.keys()):
            value = obj.get(key)
            if isinstance(value, pikepdf.Array | pikepdf.Dictionary | pikepdf.Stream):
                stack.append(value)
    return reasons


def _check_pdf(content: bytes, name: str) -> tuple[str, ...]:
    """Refuse encrypted, broken and active PDFs; the error names every kind of active content."""
    import pikepdf

    try:
        with pikepdf.open(io.BytesIO(content)) as pdf:
            try:
                # Where a viewer runs it first, in words; then anything else anywhere in the file.
                reasons = _PdfScanner().scan(pdf) or _walk_graph(pdf)
            except OverflowError as exc:
                raise _too_large_error(name, str(_("的对象数")), PDF_MAX_OBJECTS, "pdf_too_complex") from exc
    except pikepdf.PasswordError as exc:
        raise ValidationError(_("PDF 文件已加密，请上传未加密的文件"), code="pdf_encrypted") from exc
    except (pikepdf.PdfError, RecursionError) as exc:
        raise ValidationError(_("PDF 文件已损坏或不是有效的 PDF"), code="pdf_invalid") from exc
    if reasons:
        raise ValidationError(
            _("PDF 文件“%(name)s”含有活动内容（%(reasons)s），已拒收；请打印为普通 PDF 或扫描后重新上传")
            % {"name": name, "reasons": "；".join(reasons)},
            code="pdf_active_content",
        )
    return ()


def _reencode_image(content: bytes, mime: str, name: str) -> bytes:
    """Decode and re-encode an image, after checking its pixel count from the header alone."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as image:
                width, height = image.size
                if width * height > IMAGE_MAX_PIXELS:
                    raise _too_large_error(name, str(_("的像素数")), IMAGE_MAX_PIXELS, "image_too_large")
                image.load()
                out = io.BytesIO()
                # Saving without exif=/pnginfo= drops EXIF (GPS included), text chunks and trailing bytes.
                if mime == JPEG:
                    image.convert("RGB").save(out, format="JPEG", quality=92)
                else:
                    image.save(out, format="PNG")
                return out.getvalue()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_large_error(name, str(_("的像素数")), IMAGE_MAX_PIXELS, "image_too_large") from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise ValidationError(_("图片文件已损坏或无法识别"), code="image_invalid") from exc


def _check_zip(content: bytes, name: str) -> None:
    """Refuse a zip whose members together unpack beyond the bounds, from its directory alone.
    Python's zip reader stops at each member's declared size, so declared sizes are real bounds."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ValidationError(
            _("文件“%(name)s”已损坏，无法读取") % {"name": name}, code="zip_invalid"
        ) from exc
    if total > ZIP_MAX_UNCOMPRESSED_BYTES:
        raise _too_large_error(
            name, str(_("解压后的总大小（字节）")), ZIP_MAX_UNCOMPRESSED_BYTES, "zip_too_large"
        )
    if total > ZIP_RATIO_FROM and total > ZIP_MAX_RATIO * len(content):
        raise _too_large_error(name, str(_("的压缩比（倍）")), ZIP_MAX_RATIO, "zip_ratio")


def _check_csv(content: bytes, name: str) -> None:
    # Quoted fields may hold line breaks, so this over-counts rows: it is a bound, not a count.
    if content.count(b"\n") + 1 > TABLE_MAX_ROWS:
        raise _too_large_error(name, str(_("的行数")), TABLE_MAX_ROWS, "table_too_large")


def read_bounded(upload: UploadedFile[bytes]) -> bytes:
    """The bytes of an upload within UPLOAD_MAX_BYTES, or a Chinese ``ValidationError`` (too large, empty)."""
    name = safe_filename(upload.name or "file")
    limit = settings.UPLOAD_MAX_BYTES
    too_large = ValidationError(
        _("文件“%(name)s”超过 %(mb)d MB 的大小限制") % {"name": name, "mb": limit // (1024 * 1024)},
        code="too_large",
    )
    if upload.size is not None and upload.size > limit:
        raise too_large
    content: bytes = upload.read(limit + 1)
    if len(content) > limit:
        raise too_large
    if not content:
        raise ValidationError(_("文件“%(name)s”是空文件") % {"name": name}, code="empty")
    return content


def check_upload(upload: UploadedFile[bytes], allowed: frozenset[str] = DOCUMENT_TYPES) -> CheckedUpload:
    """Validate one uploaded file and return its cleaned bytes, or raise a Chinese ``ValidationError``."""
    name = safe_filename(upload.name or "file")
    content = read_bounded(upload)
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
        flags = _check_pdf(content, name)
    elif mime in (JPEG, PNG):
        content = _reencode_image(content, mime, name)
    elif mime == CSV:
        _check_csv(content, name)
    elif mime == OFD:
        _check_zip(content, name)
    elif mime == XLSX:
        check_workbook_bounds(content, name)
        _check_zip(content, name)
    return CheckedUpload(
        content=content,
        mime=mime,
        sha256=hashlib.sha256(content).hexdigest(),
        original_name=name,
        flags=flags,
        signature=check_signatures(content, mime),
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
        path = default_storage.save(
            generated_path(prefix, upload.extension, today), ContentFile(upload.content)
        )
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
    """Serve a stored upload to a caller the view has already authorised (docs/security.md).

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
