"""The generated 申请表 PDF (docs/security.md): the text is there and every font is embedded."""

from __future__ import annotations

import datetime as dt
import io

import pypdf
import time_machine
from django.urls import reverse

from applications import actions
from applications.pdf import render_application_html, render_application_pdf
from applications.tests.factories import NOW, make_draft, make_submittable
from testing.fixtures import BaseTestCase


def fonts_of(reader: pypdf.PdfReader) -> list[tuple[str, bool]]:
    """(base font, embedded?) of every font on every page, descendant CID fonts included."""
    found = []
    for page in reader.pages:
        resources = page.get("/Resources")
        fonts = resources.get_object().get("/Font") if resources is not None else None
        for ref in (fonts or {}).values():
            font = ref.get_object()
            targets = [d.get_object() for d in font.get("/DescendantFonts", [])] or [font]
            for target in targets:
                descriptor = target.get("/FontDescriptor")
                descriptor = descriptor.get_object() if descriptor is not None else {}
                embedded = any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))
                found.append((str(target.get("/BaseFont")), embedded))
    return found


@time_machine.travel(NOW, tick=False)
class PdfTests(BaseTestCase):
    def test_the_pdf_contains_the_enterprise_and_work_as_text_and_embeds_its_fonts(self) -> None:
        application = make_submittable(self.alice)
        actions.submit_application(application, actor=self.alice)
        application.refresh_from_db()
        self.login(self.alice)
        response = self.client.get(reverse("applications:pdf", kwargs={"pk": application.pk}))
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"].startswith("attachment")
        reader = pypdf.PdfReader(io.BytesIO(response.content))
        text = "".join(page.extract_text() for page in reader.pages)
        compact = "".join(text.split())
        assert "北京影都智造文化传媒有限公司" in compact
        assert "龙城夜雨" in compact
        assert "中国影都AI算力补助申请表" in compact
        assert str(application.reference) in compact
        for box in ("初审意见", "复审意见", "最终审批结果"):
            assert box in compact
        fonts = fonts_of(reader)
        assert fonts, "no fonts found"
        assert all(embedded for _name, embedded in fonts), fonts
        assert any("NotoSansCJK" in name.replace("-", "") for name, _e in fonts), fonts

    def test_the_approval_boxes_are_empty_until_filled_by_review(self) -> None:
        application = make_draft(self.alice)
        empty = render_application_html(application)
        assert "材料齐全，同意" not in empty
        filled = render_application_html(
            application,
            with_opinions=True,
            opinions={
                "initial": {"opinion": "材料齐全，同意", "signer": "赵敏", "date": dt.date(2026, 3, 23)},
                "re_review": {"opinion": "同意", "signer": "孙伟", "date": "2026-03-24"},
                "final": {"opinion": "同意补助", "signer": "周婷", "date": "2026-03-25", "result": "通过"},
            },
        )
        assert "材料齐全，同意" in filled
        assert "2026年3月24日" in filled
        assert "同意补助（通过）" in filled

    def test_row_16_and_24_are_ticked_from_the_overseas_answer(self) -> None:
        domestic = render_application_html(make_draft(self.alice))
        assert "☑是" not in domestic and "☑否" in domestic
        assert "☑常规算力服务支持（30%）" in domestic
        overseas = render_application_html(make_draft(self.alice, overseas=True, filing_number="F-2"))
        assert "☑是" in overseas
        assert "☑出海算力服务支持（39%）" in overseas

    def test_render_application_pdf_returns_pdf_bytes(self) -> None:
        content = render_application_pdf(make_draft(self.alice), with_opinions=True, opinions={})
        assert content.startswith(b"%PDF-")
