from __future__ import annotations

import time_machine

from reports.tests.fixtures import NOW, ReportFixture

URL = "/api/v1/reports/dashboard"


@time_machine.travel(NOW, tick=False)
class ReportsApiTests(ReportFixture):
    def test_anonymous_client_gets_401(self) -> None:
        self.assertEqual(self.client.get(URL).status_code, 401)

    def test_applicant_gets_403(self) -> None:
        self.login(self.alice)
        self.assertEqual(self.client.get(URL).status_code, 403)

    def test_staff_get_the_dashboards_data(self) -> None:
        self.login(self.approver)
        response = self.client.get(URL, {"year": 2026})
        self.assertEqual(response.status_code, 200)
        data = response.json()
        self.assertEqual(data["year"], 2026)
        self.assertEqual(data["totals"]["paid"], "27000.00")
        self.assertEqual(data["compliance"]["payment"]["rate_pct"], 75.0)

    def test_an_implausible_year_is_refused(self) -> None:
        self.login(self.approver)
        self.assertEqual(self.client.get(URL, {"year": 1900}).status_code, 422)
