"""/api/v1/policy/: the subsidy estimate and the parameters in force, as JSON."""

from __future__ import annotations

from django.test import TestCase

from core.apierrors import ErrorsOut
from yingdu.api import api


def declared_schema_name(path: str, status: int) -> str:
    """The name of the schema the OpenAPI document declares for an answer."""
    response = api.get_openapi_schema()["paths"][path]["get"]["responses"][status]
    return str(response["content"]["application/json"]["schema"]["$ref"]).rsplit("/", 1)[-1]


class PolicyApiTests(TestCase):
    def test_calc_returns_the_result_with_money_as_strings(self) -> None:
        response = self.client.get(
            "/api/v1/policy/calc", {"cost": "50000", "minutes": "60", "date": "2026-06-01"}
        )
        self.assertEqual(response.status_code, 200)
        data = response.json()
        self.assertEqual(
            (data["amount"], data["binding"], data["policy_version"]),
            ("12000.00", "per_minute_cap", "2026-02-05"),
        )

    def test_calc_refuses_more_than_two_decimals(self) -> None:
        response = self.client.get("/api/v1/policy/calc", {"cost": "1.001", "minutes": "60"})
        self.assertEqual(response.status_code, 422)

    def test_a_date_before_the_policy_is_a_422_naming_it(self) -> None:
        response = self.client.get("/api/v1/policy/params", {"date": "2025-01-01"})
        self.assertEqual(response.status_code, 422)
        self.assertIn("2025-01-01", response.json()["errors"]["date"][0])

    def test_params_lists_every_parameter(self) -> None:
        data = self.client.get("/api/v1/policy/params", {"date": "2026-06-01"}).json()
        self.assertEqual(data["enterprise.annual_cap"], "100000")
        self.assertEqual(data["audit.tolerance"], "0.05")

    def test_it_answers_every_422_of_the_calculator_and_params_as_the_schema_declares(self) -> None:
        cases = [
            ("/api/v1/policy/calc", {"cost": "1.001", "minutes": "60"}, "cost"),
            ("/api/v1/policy/calc", {"cost": "1e30", "minutes": "60"}, "cost"),
            (
                "/api/v1/policy/calc",
                {"cost": "100", "minutes": "60", "granted_this_year": "-1"},
                "granted_this_year",
            ),
            ("/api/v1/policy/calc", {"cost": "100", "minutes": "-1"}, "minutes"),
            ("/api/v1/policy/calc", {"cost": "abc", "minutes": "60"}, "cost"),
            ("/api/v1/policy/calc", {"cost": "100", "minutes": "60", "date": "2025-01-01"}, "date"),
            ("/api/v1/policy/params", {"date": "2025-01-01"}, "date"),
            ("/api/v1/policy/params", {"date": "false"}, "date"),
        ]
        for path, query, field in cases:
            response = self.client.get(path, query)
            self.assertEqual(response.status_code, 422, query)
            body = response.json()
            self.assertEqual(declared_schema_name(path, 422), "ErrorsOut")
            ErrorsOut.model_validate(body)
            self.assertEqual(list(body["errors"]), [field], query)
            self.assertTrue(all(body["errors"][field]), query)
            self.assertNotIn("detail", body)
