"""Audit pages: who may see and do what, what the pages show, and constant query counts on lists."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from applications.models import Application
from applications.states import Status
from audits import findings, reconciliation, spotchecks
from audits.models import Finding, ReconciliationRun
from audits.tests.fixtures import make_application
from ledger.models import Checkpoint
from testing.fixtures import BaseTestCase

BEIJING = dt.timezone(dt.timedelta(hours=8))


class AccessTests(BaseTestCase):
    app: ClassVar[Application]

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.app = make_application(cls.enterprise, cls.alice, "F-100", cost="1000.00", work_minutes=10)

    def test_the_workbench_is_for_inspectors_only(self) -> None:
        self.assertEqual(self.client.get("/audits/").status_code, 302)  # to the login page
        for user in (self.reviewer, self.finance, self.alice, self.outsider):
            self.login(user)
            self.assertEqual(self.client.get("/audits/").status_code, 403, user)
        self.login(self.inspector)
        self.assertContains(self.client.get("/audits/"), "稽查工作台")

    def test_the_staff_workbench_links_inspectors_to_the_audits_workbench(self) -> None:
        self.login(self.inspector)
        self.assertContains(self.client.get("/workbench/"), "/audits/")

    def test_reconciliation_results_are_for_staff_and_only_reviewers_and_inspectors_run_them(self) -> None:
        url = f"/audits/applications/{self.app.pk}/"
        for user in (self.alice, self.bob, self.provider_user, self.outsider):
            self.login(user)
            self.assertEqual(self.client.get(url).status_code, 403, user)
        self.login(self.finance)
        self.assertEqual(self.client.get(url).status_code, 200)
        self.assertEqual(self.client.post(url, {}).status_code, 403)
        self.login(self.reviewer)
        response = self.client.post(url, {"settlement_amount": "1000.00"})
        self.assertRedirects(response, url)
        run = ReconciliationRun.objects.get(application=self.app)
        self.assertEqual(run.actor, self.reviewer)
        page = self.client.get(url)
        self.assertContains(page, "申报用量无监控记录")
        self.assertNotContains(page, "no_monitoring")
        self.assertContains(page, "申报算力成本 1,000.00 元")
        self.assertNotContains(page, "记录核查发现")  # findings are the inspector's

    def test_inspector_only_actions_refuse_other_staff(self) -> None:
        finding = findings.record_finding(
            self.app, actor=self.inspector, description="x", source=Finding.Source.OTHER
        )
        self.login(self.head)
        for url, data in [
            (f"/audits/applications/{self.app.pk}/findings/", {"source": "other", "description": "x"}),
            (f"/audits/findings/{finding.pk}/notice/", {"text": "x"}),
            (f"/audits/findings/{finding.pk}/decide/", {"decision": "dismissed", "reasons": "x"}),
            ("/audits/samples/", {"quarter": "2026Q1"}),
            ("/audits/reconciliation/all/", {}),
        ]:
            self.assertEqual(self.client.post(url, data).status_code, 403, url)
        self.assertEqual(self.client.get(f"/audits/findings/{finding.pk}/").status_code, 403)

    def test_the_review_page_panel_shows_the_latest_result(self) -> None:
        from django.template.loader import render_to_string

        from audits.queries import latest_run

        self.assertIn(
            "尚未对账", render_to_string("audits/_reconciliation_panel.html", {"run": None, "app": self.app})
        )
        reconciliation.run_reconciliation(self.app, actor=self.reviewer)
        html = render_to_string(
            "audits/_reconciliation_panel.html", {"run": latest_run(self.app), "app": self.app}
        )
        self.assertIn("申报用量无监控记录", html)
        self.assertNotIn("no_monitoring", html)
        self.assertIn("不自动阻止审批", html)
        self.assertIn(f"/audits/applications/{self.app.pk}/", html)

    def test_the_applicant_notice_list_is_for_applicants(self) -> None:
        self.login(self.reviewer)
        self.assertEqual(self.client.get("/audits/notices/").status_code, 403)
        self.assertEqual(self.client.get("/audits/notices/1/").status_code, 404)

    def test_reconcile_all_from_the_workbench(self) -> None:
        self.login(self.inspector)
        response = self.client.post("/audits/reconciliation/all/")
        self.assertRedirects(response, "/audits/reconciliation/")
        self.assertEqual(ReconciliationRun.objects.filter(trigger=ReconciliationRun.Trigger.BATCH).count(), 1)
        self.assertContains(
            self.client.get("/audits/reconciliation/?flag=no_monitoring"), self.app.reference or ""
        )
        self.assertNotContains(
            self.client.get("/audits/reconciliation/?flag=cost_outlier"), self.app.reference or ""
        )


class ListQueryTests(BaseTestCase):
    made = 0

    def make(self, n: int) -> None:
        for _i in range(n):
            self.made += 1
            app = make_application(
                self.enterprise, self.alice, f"L-{self.made}", cost="100.00", work_minutes=10
            )
            findings.record_finding(app, actor=self.inspector, description="x", source=Finding.Source.OTHER)
        reconciliation.reconcile_many(actor=None)

    def count(self, url: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            self.assertEqual(self.client.get(url).status_code, 200)
        return len(queries)

    def test_list_pages_take_the_same_number_of_queries_for_more_rows(self) -> None:
        self.login(self.inspector)
        self.make(2)
        few = {url: self.count(url) for url in ("/audits/", "/audits/reconciliation/", "/audits/blacklist/")}
        self.make(6)
        many = {url: self.count(url) for url in few}
        self.assertEqual(few, many)


@time_machine.travel(dt.datetime(2026, 11, 2, 10, tzinfo=BEIJING), tick=False)
class SpotCheckPageTests(BaseTestCase):
    def test_the_page_shows_the_seed_checkpoint_and_formula_and_opens_the_check(self) -> None:
        root = bytes(range(32))
        Checkpoint.objects.create(
            tree_size=7,
            root_hash=root,
            note="n",
            key_hash="00000000",
            created_at=dt.datetime(2026, 10, 1, 1, tzinfo=BEIJING),
        )
        for i in range(4):
            make_application(
                self.enterprise,
                self.alice,
                f"P-{i}",
                cost="100.00",
                work_minutes=10,
                status=Status.PAID,
                paid_at=dt.datetime(2026, 8, 1 + i, tzinfo=BEIJING),
                granted="30.00",
            )
        self.login(self.reviewer)
        page = self.client.get("/audits/samples/2026Q3/")
        self.assertContains(page, root.hex())
        self.assertContains(page, "SHA-256（种子 ‖ 申请编号的十进制数字文本）")
        self.assertNotContains(page, "application id as decimal ASCII")
        self.assertContains(page, "4 / 3")
        self.assertContains(page, "尚未发起")
        self.assertNotContains(page, "发起本季度抽查")
        self.login(self.inspector)
        response = self.client.post("/audits/samples/", {"quarter": "2026Q3"})
        self.assertRedirects(response, "/audits/samples/2026Q3/")
        page = self.client.get("/audits/samples/2026Q3/")
        self.assertContains(page, "已于")
        self.assertContains(page, "记录核查发现")
        self.assertContains(self.client.get("/audits/"), "2026Q3")
        # A quarter that cannot be drawn yet says why.
        self.assertContains(self.client.get("/audits/samples/2026Q4/"), "2026Q4 尚未结束")
        response = self.client.post("/audits/samples/", {"quarter": "2026Q4"}, follow=True)
        self.assertContains(response, "2026Q4 尚未结束")
        self.assertEqual(self.client.get("/audits/samples/bad/").status_code, 404)

    def test_a_finding_is_recorded_from_the_sample(self) -> None:
        Checkpoint.objects.create(
            tree_size=7,
            root_hash=b"\x07" * 32,
            note="n",
            key_hash="00000000",
            created_at=dt.datetime(2026, 10, 1, 1, tzinfo=BEIJING),
        )
        app = make_application(
            self.enterprise,
            self.alice,
            "P-9",
            cost="100.00",
            work_minutes=10,
            status=Status.PAID,
            paid_at=dt.datetime(2026, 8, 1, tzinfo=BEIJING),
            granted="30.00",
        )
        spot = spotchecks.open_spot_check("2026Q3", actor=self.inspector)
        self.login(self.inspector)
        response = self.client.post(
            f"/audits/applications/{app.pk}/findings/",
            {"source": "spot_check", "quarter": "2026Q3", "description": "抽查发现结算凭证与监控不符"},
        )
        finding = Finding.objects.get(application=app)
        self.assertRedirects(response, f"/audits/findings/{finding.pk}/")
        self.assertEqual(finding.spot_check, spot)
