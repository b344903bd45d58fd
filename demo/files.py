"""The demo's sample files: a one-page PDF, a PNG and a consumption detail, checked as uploads are."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile

from core.uploads import CheckedUpload, check_upload


def checked_upload(name: str, content: bytes, allowed: frozenset[str]) -> CheckedUpload:
    return check_upload(SimpleUploadedFile(name, content), allowed)


def pdf_file(text: str) -> bytes:
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    pdf.docinfo["/Title"] = text
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def png_file() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (320, 200), (155, 28, 28)).save(out, format="PNG")
    return out.getvalue()


def detail_file(minutes: int, cost: Decimal, start: dt.datetime, prefix: str) -> bytes:
    """Two rows of a consumption detail adding up to ``minutes`` and ``cost`` (one card each)."""
    first = minutes // 2
    second = minutes - first
    amount_first = (cost * first / minutes).quantize(Decimal("0.01"))
    amount_second = cost - amount_first
    lines = [
        "记录编号,开始时间,结束时间,算力资源,数量（卡）,时长（分钟）,单价（元/卡·小时）,金额（元）,使用场景"
    ]
    for index, (mins, amount) in enumerate(((first, amount_first), (second, amount_second)), start=1):
        begin = start + dt.timedelta(hours=index * 3)
        price = (amount * 60 / mins).quantize(Decimal("0.0001"))
        lines.append(
            f"{prefix}-{index},{begin:%Y-%m-%d %H:%M},{begin + dt.timedelta(minutes=mins):%Y-%m-%d %H:%M},"
            f"H200,1,{mins},{price},{amount},text2video"
        )
    return ("\n".join(lines) + "\n").encode()
