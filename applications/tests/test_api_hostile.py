"""Hostile input to the API never gets a 5xx: bounded before parsing, refused in the declared error shape."""

from __future__ import annotations

import json
from typing import Any

import time_machine

from applications.tests.factories import NOW, make_draft
from testing.fixtures import BaseTestCase

BASE = "/api/v1/applications/"


@time_machine.travel(NOW, tick=False)
class HostileApiInputTests(BaseTestCase):
    def setUp(self) -> None:
        self.login(self.alice)

    def send(self, method: str, url: str, body: str) -> Any:
        return getattr(self.client, method)(url, body, content_type="application/json")

    def assertErrorsShape(self, response: Any, field: str) -> None:
        self.assertEqual(response.status_code, 422, response.content[:300])
        body = response.json()
        self.assertEqual(set(body) - {"rows"}, {"errors"})
        self.assertIn(field, body["errors"], body)
        self.assertTrue(all(isinstance(m, str) for m in body["errors"][field]), body)

    def test_it_refuses_non_string_dates_in_application_patch_and_post(self) -> None:
        draft = make_draft(self.alice)
        for value in (False, 0, 1.5):
            for method, url in (("patch", f"{BASE}{draft.pk}"), ("post", BASE)):
                response = self.send(method, url, json.dumps({"launch_date": value}))
                self.assertErrorsShape(response, "launch_date")
                self.assertIn("日期", response.json()["errors"]["launch_date"][0])

    def test_it_refuses_lone_surrogates_and_nul_in_text_fields_with_422(self) -> None:
        draft = make_draft(self.alice)
        for text in ('"龙城\\ud800夜雨"', '"龙城\\u0000夜雨"', '"\\udfff"'):
            response = self.send("patch", f"{BASE}{draft.pk}", '{"work_title": ' + text + "}")
            self.assertErrorsShape(response, "work_title")
        response = self.send("post", f"{BASE}{draft.pk}/withdraw", '{"reason": "\\ud83d"}')
        self.assertErrorsShape(response, "reason")

    def test_it_answers_a_hundred_thousand_nested_brackets_with_400(self) -> None:
        draft = make_draft(self.alice)
        for body in ("[" * 100_000 + "]" * 100_000, '{"work_title": ' + "[" * 100_000):
            response = self.send("patch", f"{BASE}{draft.pk}", body)
            self.assertEqual(response.status_code, 400)
            self.assertIn("嵌套", response.json()["detail"])

    def test_it_answers_multipart_without_a_boundary_with_400(self) -> None:
        draft = make_draft(self.alice)
        response = self.client.post(
            f"{BASE}{draft.pk}/materials", b"--x\r\n\r\n", content_type="multipart/form-data"
        )
        self.assertEqual(response.status_code, 400)
        self.assertIn("分隔符", response.json()["detail"])

    def test_it_answers_unparseable_parameters_in_the_declared_errors_shape(self) -> None:
        draft = make_draft(self.alice)
        response = self.client.post(f"{BASE}{draft.pk}/materials", {"kind": "other"})
        self.assertErrorsShape(response, "file")
        self.assertEqual(response.json()["errors"]["file"], ["此项为必填项"])

    def test_it_refuses_a_calculator_cost_of_1e30_with_422(self) -> None:
        for query in (
            "cost=1e30&minutes=10",
            "cost=100&minutes=10&granted_this_year=1e30",
            "cost=1&minutes=1e12",
        ):
            response = self.client.get(f"/api/v1/policy/calc?{query}")
            self.assertEqual(response.status_code, 422, query)
        response = self.client.get("/api/v1/policy/calc?cost=abc&minutes=10")
        self.assertErrorsShape(response, "cost")
