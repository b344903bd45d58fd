"""Every page without URL arguments answers without a server error, for every role and anonymously."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, get_resolver

from testing.fixtures import BaseTestCase


def _plain_paths() -> list[str]:
    """Paths of the site's HTML pages that take no arguments (the admin and the API excluded)."""
    paths: list[str] = []

    def walk(patterns: list[URLPattern | URLResolver], prefix: str) -> None:
        for p in patterns:
            route = str(p.pattern)
            if isinstance(p, URLResolver):
                if route.startswith(("sysadmin/", "api/")):
                    continue
                walk(p.url_patterns, prefix + route)
            elif "<" not in route and "(" not in route:
                paths.append("/" + prefix + route)

    walk(get_resolver().url_patterns, "")
    return sorted(set(paths))


class SmokeTests(BaseTestCase):
    def test_no_page_gives_a_server_error_for_any_persona(self) -> None:
        paths = _plain_paths()
        self.assertIn("/review/", paths)
        users = [None, self.alice, self.reviewer, self.head, self.approver, self.finance, self.inspector]
        users += [self.provider_user, self.outsider]
        for user in users:
            self.client.logout()
            if user is not None:
                self.login(user)
            for path in paths:
                if path.endswith("logout/"):
                    continue
                with self.subTest(user=getattr(user, "username", "anonymous"), path=path):
                    response = self.client.get(path)
                    self.assertLess(response.status_code, 500)

    def test_nonsense_query_parameters_do_not_crash_list_pages(self) -> None:
        self.login(self.reviewer)
        for path in ("/review/", "/enterprises/pending/", "/audits/", "/reports/", "/ledger/"):
            for query in (
                "?page=abc",
                "?page=-1",
                "?queue=nope&month=2026-13",
                "?year=x",
                "?from=bad&to=bad",
            ):
                with self.subTest(path=path, query=query):
                    self.assertLess(self.client.get(path + query).status_code, 500)
