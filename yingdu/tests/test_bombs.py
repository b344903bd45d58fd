"""Hostile uploads are refused before they are decoded: bounded time and memory, and an
error that names the file and the limit (docs/security.md). Each bomb is built small here."""

from __future__ import annotations

import datetime as dt
import io
import struct
import zlib
from collections.abc import Callable, Iterator

import pikepdf
import pytest
from django.core.exceptions import ValidationError

from applications.consumption import COLUMNS, HEADERS, XLSX_MIME
from applications.consumption_file import parse_consumption
from core.filetypes import DOCUMENT_TYPES, TABLE_MAX_ROWS, TABLE_TYPES
from core.uploads import IMAGE_MAX_PIXELS, ZIP_MAX_RATIO, ZIP_MAX_UNCOMPRESSED_BYTES, check_upload
from core.xlsx import XLSX_MAX_SHARED_STRINGS_BYTES
from testing.fixtures import assert_bounded, handmade_xlsx, ofd_bytes, pdf_bytes, upload

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def refused(name: str, content: bytes, allowed: frozenset[str] = DOCUMENT_TYPES | TABLE_TYPES) -> str:
    """The refusal's message, checked to come within 2 s and 100 MB."""
    with pytest.raises(ValidationError) as caught:
        assert_bounded(lambda: check_upload(upload(name, content), allowed), seconds=2, megabytes=100)
    message = caught.value.messages[0]
    assert name in message, message
    return message


def cell(row: int, column: str = "A") -> str:
    return f'<row r="{row}"><c r="{column}{row}" t="inlineStr"><is><t>x</t></is></c></row>'


# --- spreadsheets --------------------------------------------------------------------------------


def test_it_refuses_a_sheet_whose_dimension_reaches_row_100_million() -> None:
    content = handmade_xlsx(cell(1) + cell(100_000_000), dimension="A1:A100000000")
    assert len(content) < 4096
    message = refused("明细.xlsx", content)
    assert "行数" in message and f"{TABLE_MAX_ROWS:,}" in message


def test_it_refuses_a_sheet_wider_than_the_column_limit() -> None:
    message = refused("明细.xlsx", handmade_xlsx(cell(1, "XFD"), dimension="A1:XFD1"))
    assert "列数" in message and "64" in message


def test_it_stops_reading_a_sheet_whose_dimension_lies_at_the_row_limit() -> None:
    # The dimension claims the header row only; the sheet holds a cell at row 100,000,000.
    header = "".join(
        f'<c r="{chr(65 + i)}1" t="inlineStr"><is><t>{HEADERS[c]}</t></is></c>' for i, c in enumerate(COLUMNS)
    )
    content = handmade_xlsx(f'<row r="1">{header}</row>' + cell(100_000_000), dimension="A1:I1")
    # The upload check refuses it (below); the reader, given the bytes alone, bounds it too.
    result = assert_bounded(lambda: parse_consumption(content, XLSX_MIME, now=NOW))
    assert not result.ok
    assert f"{TABLE_MAX_ROWS:,}" in result.errors[-1].message, result.errors


def _chunks(total: int, size: int = 1 << 20) -> Iterator[bytes]:
    block = b"a" * size
    while total > 0:
        yield block[: min(size, total)]
        total -= size


def test_it_refuses_a_shared_string_table_over_its_limit() -> None:
    content = handmade_xlsx(
        '<row r="1"><c r="A1" t="s"><v>0</v></c></row>',
        shared_strings=_chunks(XLSX_MAX_SHARED_STRINGS_BYTES + 1),
    )
    assert len(content) < 200_000
    message = refused("明细.xlsx", content)
    assert "共享字符串表" in message and "32 MB" in message


def test_it_refuses_a_part_compressed_beyond_any_spreadsheet() -> None:
    content = handmade_xlsx(cell(1) + " " * (4 << 20), dimension="A1")
    message = refused("明细.xlsx", content)
    assert "压缩比" in message and "200" in message


def test_it_refuses_a_csv_longer_than_the_row_limit() -> None:
    content = "记录编号,开始时间\n".encode() + b"\n" * TABLE_MAX_ROWS
    message = refused("明细.csv", content)
    assert "行数" in message and f"{TABLE_MAX_ROWS:,}" in message


# --- images --------------------------------------------------------------------------------------


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` × ``height`` with almost no pixel data (decoding would
    allocate the whole bitmap)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("width", "height"),
    [(7_000, 7_000), (12_000, 12_000), (30_000, 30_000)],
    ids=["above-the-platform-limit", "above-pillow-warning", "pillow-bomb-error"],
)
def test_it_refuses_an_image_by_its_pixel_count_before_decoding(width: int, height: int) -> None:
    assert width * height > IMAGE_MAX_PIXELS
    message = refused("执照.png", _png_header_only(width, height))
    assert "像素数" in message and f"{IMAGE_MAX_PIXELS:,}" in message


# --- PDFs with active content ----------------------------------------------------------------


def _javascript(pdf: pikepdf.Pdf) -> pikepdf.Dictionary:
    return pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)")))


def _page_aa(pdf: pikepdf.Pdf) -> None:
    pdf.pages[0].obj.AA = pikepdf.Dictionary(O=_javascript(pdf))


def _link_javascript(pdf: pikepdf.Pdf) -> None:
    link = pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 50, 50], A=_javascript(pdf)
    )
    pdf.pages[0].obj.Annots = pdf.make_indirect(pikepdf.Array([pdf.make_indirect(link)]))


def _link_launch(pdf: pikepdf.Pdf) -> None:
    launch = pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("calc.exe"))
    link = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 5, 5], A=launch)
    pdf.pages[0].obj.Annots = pikepdf.Array([pdf.make_indirect(link)])


def _widget_aa(pdf: pikepdf.Pdf) -> None:
    widget = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.Widget,
            FT=pikepdf.Name.Tx,
            T=pikepdf.String("name"),
            Rect=[0, 0, 50, 20],
            AA=pikepdf.Dictionary(K=_javascript(pdf)),
        )
    )
    pdf.Root.AcroForm = pikepdf.Dictionary(Fields=[widget])


def _names_javascript(pdf: pikepdf.Pdf) -> None:
    tree = pikepdf.Dictionary(Names=[pikepdf.String("run"), _javascript(pdf)])
    pdf.Root.Names = pikepdf.Dictionary(JavaScript=pdf.make_indirect(tree))


def _embedded_file(pdf: pikepdf.Pdf) -> None:
    spec = pikepdf.AttachedFileSpec(pdf, b"MZ payload", filename="payload.exe")
    pdf.attachments["payload.exe"] = spec


def _chained_javascript(pdf: pikepdf.Pdf) -> None:
    harmless = pikepdf.Dictionary(S=pikepdf.Name.GoTo, D=[pdf.pages[0].obj, pikepdf.Name.Fit])
    harmless.Next = _javascript(pdf)
    pdf.Root.OpenAction = harmless


def _outline_javascript(pdf: pikepdf.Pdf) -> None:
    with pdf.open_outline() as outline:
        outline.root.append(pikepdf.OutlineItem("第一章", 0))
    item = pdf.Root.Outlines.First
    item.A = _javascript(pdf)


def _link(pdf: pikepdf.Pdf, action: pikepdf.Dictionary) -> None:
    link = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 5, 5], A=action)
    pdf.pages[0].obj.Annots = pikepdf.Array([pdf.make_indirect(link)])


def _uri_javascript(pdf: pikepdf.Pdf) -> None:
    _link(pdf, pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String(" JavaScript:app.alert(1)")))


def _uri_network_share(pdf: pikepdf.Pdf) -> None:
    _link(pdf, pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String("file://attacker.example/share/x")))


def _goto_remote(pdf: pikepdf.Pdf) -> None:
    _link(
        pdf,
        pikepdf.Dictionary(
            S=pikepdf.Name.GoToR,
            F=pikepdf.String("\\\\attacker.example\\share\\a.pdf"),
            D=[0, pikepdf.Name.Fit],
        ),
    )


def _parent_field_actions(pdf: pikepdf.Pdf) -> None:
    # The widget is on the page only; its parent field, listed nowhere else, carries the script.
    parent = pdf.make_indirect(
        pikepdf.Dictionary(
            FT=pikepdf.Name.Tx, T=pikepdf.String("name"), AA=pikepdf.Dictionary(K=_javascript(pdf))
        )
    )
    widget = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget, Rect=[0, 0, 50, 20], Parent=parent
        )
    )
    parent.Kids = pikepdf.Array([widget])
    pdf.pages[0].obj.Annots = pikepdf.Array([widget])


def _action_off_an_unusual_key(pdf: pikepdf.Pdf) -> None:
    pdf.Root.Extra = pikepdf.Dictionary(Hidden=pikepdf.Array([_javascript(pdf)]))


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (_outline_javascript, "JavaScript"),
        (_uri_javascript, "链接指向脚本"),
        (_uri_network_share, "网络共享"),
        (_goto_remote, "跳转到其他文件"),
        (_parent_field_actions, "JavaScript"),
        (_action_off_an_unusual_key, "JavaScript"),
        (_page_aa, "页面含自动执行的动作"),
        (_link_javascript, "注释或链接含脚本"),
        (_link_launch, "启动程序"),
        (_widget_aa, "表单字段含自动执行的动作"),
        (_names_javascript, "文档名称树含脚本"),
        (_embedded_file, "含嵌入文件"),
        (_chained_javascript, "打开文档时执行脚本"),
    ],
    ids=[
        "outline-javascript",
        "uri-javascript",
        "uri-network-share",
        "goto-remote",
        "parent-field-actions",
        "unusual-key",
        "page-aa",
        "link-javascript",
        "link-launch",
        "widget-aa",
        "names-javascript",
        "embedded-file",
        "next",
    ],
)
def test_it_refuses_active_content_anywhere_in_a_pdf(
    build: Callable[[pikepdf.Pdf], None], reason: str
) -> None:
    pdf = pikepdf.open(io.BytesIO(pdf_bytes()))
    build(pdf)
    out = io.BytesIO()
    pdf.save(out)
    message = refused("营业执照.pdf", out.getvalue(), DOCUMENT_TYPES)
    assert "活动内容" in message and reason in message, message


def test_it_accepts_a_pdf_that_opens_at_a_page_and_a_link_to_a_page() -> None:
    pdf = pikepdf.open(io.BytesIO(pdf_bytes()))
    page = pdf.pages[0].obj
    pdf.Root.OpenAction = pikepdf.Array([page, pikepdf.Name.Fit])
    link = pikepdf.Dictionary(
        Type=pikepdf.Name.Annot,
        Subtype=pikepdf.Name.Link,
        Rect=[0, 0, 5, 5],
        A=pikepdf.Dictionary(S=pikepdf.Name.GoTo, D=[page, pikepdf.Name.Fit]),
    )
    page.Annots = pikepdf.Array([pdf.make_indirect(link)])
    out = io.BytesIO()
    pdf.save(out)
    checked = check_upload(upload("营业执照.pdf", out.getvalue()), DOCUMENT_TYPES)
    assert checked.mime == "application/pdf"


def test_it_accepts_a_pdf_with_web_and_mail_links_and_an_outline_to_a_page() -> None:
    pdf = pikepdf.open(io.BytesIO(pdf_bytes()))
    with pdf.open_outline() as outline:
        outline.root.append(pikepdf.OutlineItem("第一章", 0))
    links = [
        pikepdf.Dictionary(
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.Link,
            Rect=[0, 0, 5, 5],
            A=pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String(uri)),
        )
        for uri in ("https://www.bjhr.gov.cn/", "mailto:zhongxin@example.cn")
    ]
    pdf.pages[0].obj.Annots = pikepdf.Array([pdf.make_indirect(link) for link in links])
    out = io.BytesIO()
    pdf.save(out)
    assert check_upload(upload("营业执照.pdf", out.getvalue()), DOCUMENT_TYPES).mime == "application/pdf"


# --- zips: OFD packages and workbooks ------------------------------------------------------------


def _ofd_holding(zeros: int) -> bytes:
    """An OFD package whose one page resource unpacks to ``zeros`` bytes, written a megabyte at a time."""
    import zipfile

    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(ofd_bytes(sealed=False))) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive,
    ):
        for info in source.infolist():
            archive.writestr(info.filename, source.read(info))
        with archive.open("Doc_0/Res/image.bin", "w", force_zip64=True) as member:
            for block in _chunks(zeros, 1 << 20):
                member.write(b"\0" * len(block))
    return out.getvalue()


def test_it_refuses_an_ofd_zip_bomb_by_its_total_unpacked_size() -> None:
    content = _ofd_holding(300 * 1024 * 1024)
    assert len(content) < 400 * 1024
    message = refused("执照.ofd", content, DOCUMENT_TYPES)
    assert "解压后的总大小" in message and f"{ZIP_MAX_UNCOMPRESSED_BYTES:,}" in message


def test_it_refuses_an_ofd_that_unpacks_to_far_more_than_its_size() -> None:
    message = refused("执照.ofd", _ofd_holding(20 * 1024 * 1024), DOCUMENT_TYPES)
    assert "压缩比" in message and f"{ZIP_MAX_RATIO:,}" in message


def test_it_accepts_an_ordinary_ofd() -> None:
    assert check_upload(upload("执照.ofd", ofd_bytes()), DOCUMENT_TYPES).mime == "application/ofd"


def _blank_rows(n: int) -> Iterator[bytes]:
    yield b'<row r="1"><c r="A1" t="inlineStr"><is><t>x</t></is></c></row>'
    for start in range(2, n + 1, 10_000):
        yield b"".join(b'<row r="%d"/>' % r for r in range(start, min(start + 10_000, n + 1)))


def _streamed_sheet(rows: Iterator[bytes], dimension: str) -> bytes:
    """``handmade_xlsx`` with its one sheet written row chunk by row chunk (millions of rows)."""
    import zipfile

    small = handmade_xlsx("", dimension=dimension)
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(small)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive,
    ):
        for info in source.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                archive.writestr(info.filename, source.read(info))
        head, tail = source.read("xl/worksheets/sheet1.xml").split(b"<sheetData>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            part.write(head + b"<sheetData>")
            for chunk in rows:
                part.write(chunk)
            part.write(tail)
    return out.getvalue()


def test_it_refuses_a_sheet_of_3_million_blank_rows_whose_dimension_lies_before_reading_it() -> None:
    content = _streamed_sheet(_blank_rows(3_000_000), dimension="A1")
    message = refused("明细.xlsx", content)
    assert "行数" in message and f"{TABLE_MAX_ROWS:,}" in message


def test_it_refuses_more_row_elements_than_the_limit_even_without_row_numbers() -> None:
    rows = (b"<row/>" * 10_000 for _ in range(TABLE_MAX_ROWS // 10_000 + 1))
    message = refused("明细.xlsx", _streamed_sheet(rows, dimension="A1"))
    assert "行数" in message


def test_it_accepts_a_sheet_at_the_row_limit() -> None:
    content = _streamed_sheet(_blank_rows(TABLE_MAX_ROWS), dimension=f"A1:A{TABLE_MAX_ROWS}")
    assert check_upload(upload("明细.xlsx", content), TABLE_TYPES).mime == XLSX_MIME
