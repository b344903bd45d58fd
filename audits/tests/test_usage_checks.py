"""Reconciliation flags of usage lines (docs/usage-formats.md): shared tasks and invoices, overdrawn packs,
vouchers and generated video far shorter than the work."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from applications.models import Application, Material, MaterialKind
from applications.usage_store import save_lines
from applications.vendor_formats import parse_file
from audits import reconciliation, rules
from audits.tests.fixtures import current_checkpoint, make_application
from testing.fixtures import BaseTestCase

FIXTURES = Path(__file__).resolve().parents[2] / "applications" / "tests" / "fixtures" / "usage"
NOW = dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC)
INVOICE = "26112000000012345678"


def template(*rows: str) -> bytes:
    header = "类型,厂商,模型或规格,任务编号,用量,单位,资源包编号,算力券抵扣（元）,应付金额（元）,实付金额（元）,发票号码"
    return ("\n".join([header, *rows]) + "\n").encode()


def attach(app: Application, name: str, content: bytes) -> None:
    material = Material.objects.create(
        application=app,
        kind=MaterialKind.CONSUMPTION_DETAIL,
        file=f"materials/2026/12/{name}",
        original_name=name,
        mime="application/json" if name.endswith(".json") else "text/csv",
        size=len(content),
        sha256="0" * 64,
        locked=True,
        uploaded_by=app.created_by,
    )
    result = parse_file(name, content, now=NOW)
    assert result.lines, result.rejections
    save_lines(app, material, result)


class UsageCheckTests(BaseTestCase):
    def test_reconciliation_flags_a_task_id_and_an_invoice_claimed_by_two_applications(self) -> None:
        first = make_application(self.enterprise, self.alice, "U1", cost="509.20", work_minutes=10)
        second = make_application(self.other_enterprise, self.bob, "U2", cost="509.20", work_minutes=10)
        ark = (FIXTURES / "ark_tasks.json").read_bytes()
        bill = template(f"模型服务,火山方舟,doubao-seedance,,24500000,token,,,509.20,509.20,{INVOICE}")
        for app in (first, second):
            attach(app, "ark_tasks.json", ark)
            attach(app, "明细.csv", bill)
        run = reconciliation.run_reconciliation(second, actor=self.inspector, checkpoint=current_checkpoint())
        [shared] = [f for f in run.flags if f["code"] == rules.SHARED_USAGE]
        assert shared["numbers"]["task_ids"] == ["cgt-20261103100000-aaaa1", "cgt-20261103101500-dddd4"]
        assert shared["numbers"]["invoices"] == [INVOICE]
        assert first.reference and first.reference in shared["message"]

    def test_reconciliation_flags_pack_units_drawn_beyond_the_pack_and_a_voucher(self) -> None:
        app = make_application(self.enterprise, self.alice, "U3", cost="100.00", work_minutes=1)
        attach(app, "kling_tasks.json", (FIXTURES / "kling_tasks.json").read_bytes())  # 6 units drawn
        attach(
            app,
            "明细.csv",
            template(
                "资源包购买,可灵,视频生成-试用,,4,资源包单位,P-1,,20.00,20.00,",
                "模型服务,阿里云百炼,wanx2.1-t2v-plus,,60,生成视频秒,,30.00,42.00,12.00,",
            ),
        )
        run = reconciliation.run_reconciliation(app, actor=self.inspector, checkpoint=current_checkpoint())
        by_code = {f["code"]: f for f in run.flags}
        assert by_code[rules.PACK_OVERDRAWN]["numbers"] == {"vendor": "可灵", "drawn": "6", "size": "4"}
        assert by_code[rules.VOUCHER_USED]["numbers"] == {"voucher": "30.00"}
        assert rules.SHARED_USAGE not in by_code

    def test_reconciliation_flags_generated_minutes_far_below_the_work(self) -> None:
        app = make_application(self.enterprise, self.alice, "U4", cost="100.00", work_minutes=96)
        attach(app, "dashscope.jsonl", (FIXTURES / "dashscope_tasks.jsonl").read_bytes())  # 15 s generated
        run = reconciliation.run_reconciliation(app, actor=self.inspector, checkpoint=current_checkpoint())
        [low] = [f for f in run.flags if f["code"] == rules.LOW_GENERATION]
        assert low["numbers"] == {"generated_minutes": "0.25", "work_minutes": 96}

    def test_reconciliation_flags_declared_usage_beyond_what_the_provider_reported(self) -> None:
        from monitoring.tests.test_usage_lines import line
        from monitoring.usage_lines import record_usage_lines

        app = make_application(self.enterprise, self.alice, "U5", cost="100.00", work_minutes=10)
        attach(app, "明细.csv", template("模型服务,火山方舟,doubao-seedance,,490000,token,,,8.82,8.82,"))
        reported = line("R-1", work_ref="U5", sku="doubao-seedance", day=None, task_id="")
        reported.pop("day")
        record_usage_lines(self.provider, [reported], actor_repr="test")  # 245,000 reported
        run = reconciliation.run_reconciliation(app, actor=self.inspector, checkpoint=current_checkpoint())
        [over] = [f for f in run.flags if f["code"] == rules.OVER_REPORTED]
        assert "申报 490000、报送 245000 token" in over["message"]

    def test_a_work_made_with_model_services_only_is_not_flagged_for_missing_gpu_monitoring(self) -> None:
        app = make_application(self.enterprise, self.alice, "U6", cost="44.10", work_minutes=1)
        attach(app, "明细.csv", template("模型服务,火山方舟,doubao-seedance,,2450000,token,,,44.10,44.10,"))
        run = reconciliation.run_reconciliation(app, actor=self.inspector, checkpoint=current_checkpoint())
        assert rules.NO_MONITORING not in run.flag_codes and rules.OVER_CLAIM not in run.flag_codes
        gpu = make_application(self.enterprise, self.alice, "U7", cost="44.10", work_minutes=1)
        attach(gpu, "明细.csv", template("GPU 算力时长,某智算中心,H200,,3600,卡·秒,,,44.10,44.10,"))
        run = reconciliation.run_reconciliation(gpu, actor=self.inspector, checkpoint=current_checkpoint())
        assert rules.NO_MONITORING in run.flag_codes

    def test_reconciling_all_at_once_gives_each_application_the_usage_flags_it_gets_alone(self) -> None:
        first = make_application(self.enterprise, self.alice, "U8", cost="509.20", work_minutes=10)
        second = make_application(self.other_enterprise, self.bob, "U9", cost="509.20", work_minutes=10)
        model_only = make_application(self.enterprise, self.alice, "U10", cost="44.10", work_minutes=1)
        bill = template(f"模型服务,火山方舟,doubao-seedance,,24500000,token,,,509.20,509.20,{INVOICE}")
        for app in (first, second):
            attach(app, "ark_tasks.json", (FIXTURES / "ark_tasks.json").read_bytes())
            attach(app, "明细.csv", bill)
        attach(model_only, "明细.csv", template("模型服务,火山方舟,doubao-seedance,,2450000,token,,,44.10,44.10,"))
        apps = [first, second, model_only]
        checkpoint = current_checkpoint()
        alone = {
            a.pk: reconciliation.run_reconciliation(a, actor=self.inspector, checkpoint=checkpoint).flags
            for a in apps
        }
        together = reconciliation.reconcile_many(
            Application.objects.filter(pk__in=[a.pk for a in apps]).select_related("enterprise").order_by("pk"),
            actor=self.inspector,
            checkpoint=checkpoint,
        )
        self.assertEqual({run.application_id: run.flags for run in together}, alone)
        codes = {run.application_id: set(run.flag_codes) for run in together}
        self.assertIn(rules.SHARED_USAGE, codes[second.pk])
        self.assertNotIn(rules.NO_MONITORING, codes[model_only.pk])
