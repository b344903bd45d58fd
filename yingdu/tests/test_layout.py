"""The page frame: a favicon, a print stylesheet, a phone layout and page titles naming the platform."""

from __future__ import annotations

from pathlib import Path

from django.contrib.staticfiles import finders

from testing.fixtures import BaseTestCase

CSS = Path(__file__).resolve().parents[2] / "static" / "css" / "site.css"


class LayoutTests(BaseTestCase):
    def test_it_links_a_favicon_and_answers_favicon_ico(self) -> None:
        page = self.client.get("/")
        self.assertContains(page, 'rel="icon"')
        self.assertIsNotNone(finders.find("favicon.svg"))
        response = self.client.get("/favicon.ico")
        self.assertEqual(response.status_code, 301)
        self.assertIn("favicon", response["Location"])

    def test_it_links_a_print_stylesheet(self) -> None:
        page = self.client.get("/")
        self.assertContains(page, 'media="print"')
        self.assertIsNotNone(finders.find("css/print.css"))

    def test_it_collapses_the_navigation_behind_a_menu_button_on_phones(self) -> None:
        self.login(self.reviewer)
        page = self.client.get("/workbench/")
        self.assertContains(page, 'id="nav-toggle"')
        self.assertContains(page, 'aria-controls="site-nav"')
        css = CSS.read_text()
        self.assertIn("@media (max-width: 760px)", css)
        self.assertIn(".site-nav.open", css)

    def test_it_names_the_platform_in_every_page_title(self) -> None:
        for path in ("/", "/accounts/login/", "/policy/calc/"):
            with self.subTest(path=path):
                self.assertContains(self.client.get(path), " - 中国影都人工智能算力服务平台</title>")
