"""Offline proofs (C2SP tlog-proof) of a usage record and of a payment, cosigned by two real witnesses."""

from __future__ import annotations

import base64
import datetime as dt
import subprocess
import sys
import tempfile
from pathlib import Path

from django.urls import reverse
from django.utils import timezone

from applications.states import Status
from audits.reconciliation import reconcile_many, run_reconciliation
from audits.rules import ENDS_AFTER_WITNESS
from audits.tests.fixtures import Monitoring, at
from ledger import keys, witnessing
from ledger.actions import sign_checkpoint
from ledger.models import AuditEvent
from ledger.tests.witnesses import two_witnesses
from review import actions
from testing.fixtures import BaseTestCase, make_application
from witness.policy import parse_policy
from witness.proofs import verify_proof

REPO = Path(__file__).resolve().parents[2]


def flip(proof: str, line_prefix: str, nth: int = 0) -> str:
    """Flip one bit of the decoded bytes of the ``nth`` line starting with ``line_prefix``."""
    lines = proof.split("\n")
    found = [i for i, line in enumerate(lines) if line.startswith(line_prefix)]
    i = found[nth]
    head, _, value = lines[i].rpartition(" ") if " " in lines[i] else ("", "", lines[i])
    raw = bytearray(base64.b64decode(value))
    raw[len(raw) // 2] ^= 0x01
    lines[i] = (head + " " if head else "") + base64.b64encode(bytes(raw)).decode()
    return "\n".join(lines)


class WitnessedProofTests(BaseTestCase):
    def setUp(self) -> None:
        self.witnesses = two_witnesses(self, start=True)
        app = make_application(self.enterprise, self.alice, Status.FINAL_APPROVAL)
        actions.approve_application(app, actor=self.approver, opinion="同意补助")
        assert app.granted_amount is not None
        actions.record_payment(
            app,
            date=timezone.localdate(),
            amount=app.granted_amount,
            bank_reference="BOC1",
            actor=self.finance,
        )
        self.app = app
        [self.record] = Monitoring(self.provider).hours(self.enterprise.uscc, str(app.pk), at(10), 1)
        self.payment = AuditEvent.objects.get(action="application.pay", object_id=str(app.pk))
        assert self.payment.leaf_index is not None
        self.payment_index: int = self.payment.leaf_index
        sign_checkpoint()
        assert [s.status for s in witnessing.collect_cosignatures()] == ["ok", "ok"]
        self.policy = parse_policy(witnessing.policy_text())

    def download(self, user: object, index: int) -> str:
        self.login(user)  # type: ignore[arg-type]
        response = self.client.get(reverse("ledger:proof", args=[index]))
        assert response.status_code == 200, response.content
        assert response["Content-Disposition"].endswith('.tlog-proof"')
        return response.content.decode()

    def check_tampering(self, proof: str) -> None:
        assert verify_proof(proof, self.policy).ok
        for prefix in ("extra ", "index ", "\u2014 w1", "\u2014 w2"):
            bad = flip(proof, prefix) if prefix != "index " else proof.replace("index ", "index 1", 1)
            assert not verify_proof(bad, self.policy).ok, prefix
        # A hash line of the inclusion proof.
        lines = proof.split("\n")
        k = next(i for i, line in enumerate(lines) if line.startswith("index ")) + 1
        if lines[k]:
            raw = bytearray(base64.b64decode(lines[k]))
            raw[0] ^= 0x80
            lines[k] = base64.b64encode(bytes(raw)).decode()
            assert not verify_proof("\n".join(lines), self.policy).ok

    def test_it_verifies_the_tlog_proof_of_a_usage_record_offline_and_refuses_a_flipped_byte(self) -> None:
        proof = self.download(self.provider_user, self.record.leaf_index)
        result = verify_proof(proof, self.policy)
        assert result.ok, result.problems
        assert result.index == self.record.leaf_index and sorted(result.cosigned) == [
            "w1.witness.test",
            "w2.witness.test",
        ]
        self.check_tampering(proof)

    def test_it_verifies_the_tlog_proof_of_a_payment_offline_and_refuses_a_flipped_byte(self) -> None:
        page = self.client
        self.login(self.alice)
        detail = page.get(reverse("applications:detail", args=[self.app.pk])).content.decode()
        link = reverse("ledger:proof", args=[self.payment_index])
        assert link in detail
        proof = self.download(self.alice, self.payment_index)
        assert b'"application.pay"' in verify_proof(proof, self.policy).entry
        self.check_tampering(proof)
        # The stand-alone verifier needs only the log key, the policy and the file.
        with tempfile.TemporaryDirectory() as d:
            (Path(d) / "p.tlog-proof").write_text(proof)
            (Path(d) / "policy").write_text(witnessing.policy_text())
            (Path(d) / "bad.tlog-proof").write_text(flip(proof, "\u2014 w1"))
            args = [
                sys.executable,
                "-m",
                "witness",
                "verify-proof",
                "--log-key",
                keys.verifier_key(),
                "--policy",
            ]
            good = subprocess.run(
                [*args, f"{d}/policy", f"{d}/p.tlog-proof"], capture_output=True, text=True, cwd=REPO
            )
            assert good.returncode == 0, good.stdout
            bad = subprocess.run(
                [*args, f"{d}/policy", f"{d}/bad.tlog-proof"], capture_output=True, text=True, cwd=REPO
            )
            assert bad.returncode == 1

    def test_it_refuses_the_proof_to_another_enterprise(self) -> None:
        self.login(self.bob)
        assert self.client.get(reverse("ledger:proof", args=[self.payment_index])).status_code == 404

    def test_it_offers_no_proof_before_a_witnessed_checkpoint_covers_the_entry(self) -> None:
        self.witnesses[1].stop()
        [later] = Monitoring(self.provider, node_id="hz-gpu-002").hours(
            self.enterprise.uscc, str(self.app.pk), at(11), 1
        )
        sign_checkpoint()
        witnessing.collect_cosignatures()
        self.login(self.provider_user)
        assert self.client.get(reverse("ledger:proof", args=[later.leaf_index])).status_code == 409
        portal = self.client.get(reverse("monitoring:portal")).content.decode()
        assert reverse("ledger:proof", args=[self.record.leaf_index]) in portal
        assert reverse("ledger:proof", args=[later.leaf_index]) not in portal and "待见证" in portal


class WitnessTimeBoundTests(BaseTestCase):
    def test_it_flags_a_usage_record_ending_after_its_first_covering_cosignature(self) -> None:
        two_witnesses(self, start=True)
        app = make_application(self.enterprise, self.alice, Status.FINAL_APPROVAL)
        monitoring = Monitoring(self.provider)
        now = timezone.now()
        honest = monitoring.insert_unchecked(self.enterprise.uscc, str(app.pk), now - dt.timedelta(hours=2))
        # Stated to end two hours from now, yet already in the log when the witnesses cosign.
        ahead = monitoring.insert_unchecked(self.enterprise.uscc, str(app.pk), now + dt.timedelta(hours=1))
        sign_checkpoint()
        assert [s.status for s in witnessing.collect_cosignatures()] == ["ok", "ok"]
        run = run_reconciliation(app, actor=self.inspector)
        [flag] = [f for f in run.flags if f["code"] == ENDS_AFTER_WITNESS]
        assert flag["numbers"]["leaf_indexes"] == [ahead.leaf_index]
        assert honest.leaf_index not in flag["numbers"]["leaf_indexes"]
        assert flag["numbers"]["tolerance_minutes"] == "10"
        # The set-wise reconciliation of many applications flags it alike.
        [batch_run] = reconcile_many([app], actor=self.inspector)
        assert [f["numbers"]["leaf_indexes"] for f in batch_run.flags if f["code"] == ENDS_AFTER_WITNESS] == [
            [ahead.leaf_index]
        ]

    def test_it_raises_no_time_flag_before_any_witness_cosigned(self) -> None:
        app = make_application(self.enterprise, self.alice, Status.FINAL_APPROVAL)
        Monitoring(self.provider).insert_unchecked(
            self.enterprise.uscc, str(app.pk), timezone.now() + dt.timedelta(hours=1)
        )
        sign_checkpoint()
        run = run_reconciliation(app, actor=self.inspector)
        assert ENDS_AFTER_WITNESS not in [f["code"] for f in run.flags]
