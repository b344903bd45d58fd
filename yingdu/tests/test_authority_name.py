"""The issuing authority is named in full, from one setting, on every page, PDF, notice and timeline."""

from __future__ import annotations

from pathlib import Path

from django.test import override_settings
from django.urls import reverse

from testing.fixtures import BaseTestCase

ROOT = Path(__file__).resolve().parents[2]
FULL_NAME = "北京市怀柔区文化产业发展促进中心"
SHORT_FORM = "文化产业促进中心"  # the misnomer: 发展 left out
SOURCE_DIRS = (
    "accounts",
    "core",
    "demo",
    "ledger_web",
    "testing",
    "applications",
    "audits",
    "enterprises",
    "ledger",
    "monitoring",
    "policy",
    "reports",
    "review",
    "templates",
    "yingdu",
    "docs",
)


def misnamed_files() -> list[str]:
    hits = []
    for folder in SOURCE_DIRS:
        for path in (ROOT / folder).rglob("*"):
            if (
                path.suffix not in {".py", ".html", ".txt", ".md", ".yaml"}
                or path == Path(__file__).resolve()
            ):
                continue
            if SHORT_FORM in path.read_text(encoding="utf-8", errors="replace"):
                hits.append(str(path.relative_to(ROOT)))
    return hits


class AuthorityNameTests(BaseTestCase):
    def test_it_prints_the_short_form_of_the_authority_nowhere_in_code_templates_or_docs(self) -> None:
        self.assertEqual(misnamed_files(), [])

    def test_it_names_the_authority_in_full_on_every_page_footer(self) -> None:
        for user in (None, self.alice, self.reviewer):
            if user is not None:
                self.login(user)
            page = self.client.get(reverse("home"), follow=True).content.decode()
            self.assertIn(FULL_NAME, page)
            self.assertNotIn("北京市怀柔区文化产业促进中心", page)

    @override_settings(AUTHORITY_NAME="测试发文机关")
    def test_it_takes_the_authority_name_from_its_one_setting(self) -> None:
        page = self.client.get(reverse("home"), follow=True).content.decode()
        self.assertIn('<footer class="footer">测试发文机关', page)
