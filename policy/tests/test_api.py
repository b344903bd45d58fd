"""/api/v1/policy/: the subsidy estimate and the parameters in force, as JSON."""

from __future__ import annotations

from django.test import TestCase


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
        self.assertIn("2025-01-01", response.json()["detail"])

    def test_params_lists_every_parameter(self) -> None:
        data = self.client.get("/api/v1/policy/params", {"date": "2026-06-01"}).json()
        self.assertEqual(data["enterprise.annual_cap"], "100000")
        self.assertEqual(data["audit.tolerance"], "0.05")
