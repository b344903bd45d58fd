"""The platform as the witnesses' client: two real witness processes on loopback, a 2-of-2 policy."""

from __future__ import annotations

import requests
from django.core import mail
from django.core.management import call_command
from django.test import TestCase
from django.urls import reverse

from accounts.roles import Role
from ledger import keys, services, witnessing
from ledger.actions import append_entries, sign_checkpoint
from ledger.models import AuditEvent, Checkpoint, Cosignature, Witness
from ledger.note import sign_checkpoint as sign_checkpoint_note
from ledger.tasks import sign_periodic_checkpoint, verify_ledger_nightly
from ledger.tests.witnesses import WitnessProcess, two_witnesses
from testing.fixtures import make_user
from witness.tests.test_witness import spec_verify_cosignature


class WitnessedLogTests(TestCase):
    witnesses: list[WitnessProcess]

    def setUp(self) -> None:
        self.witnesses = two_witnesses(self)

    def grow(self, n: int) -> Checkpoint:
        append_entries([f"entry {i}".encode() for i in range(n)], kind="test")
        sign_checkpoint()
        return witnessing._latest_checkpoint()  # type: ignore[return-value]

    def forge(self, size: int, root: bytes) -> str:
        """A checkpoint signed with the platform's own key for another history (what an operator could do)."""
        return sign_checkpoint_note(keys.signer(), services._state().origin, size, root)  # type: ignore[union-attr]

    def test_it_has_two_witnesses_on_loopback_cosign_the_checkpoints(self) -> None:
        for w in self.witnesses:
            w.start()
        first = self.grow(5)
        assert [s.status for s in witnessing.collect_cosignatures()] == ["ok", "ok"]
        second = self.grow(9)
        assert [s.status for s in witnessing.collect_cosignatures()] == ["ok", "ok"]
        assert witnessing.latest_witnessed() == second
        # A verifier written from the tlog-cosignature specification accepts every stored line.
        for cp in (first, second):
            text = cp.note.split("\n\n")[0] + "\n"
            for w in self.witnesses:
                line = Cosignature.objects.get(checkpoint=cp, witness__name=w.name).line
                assert spec_verify_cosignature(w.vkey, text, line) > 0
        note = witnessing.witnessed_note(second)
        assert note.startswith(second.note) and note.count("\u2014 ") == 3
        assert witnessing.cosignature_problems() == []

    def test_it_refuses_a_fork_and_the_platform_raises_the_alarm(self) -> None:
        sec = make_user("sec", Role.SECADMIN, email="sec@yingdu.local")
        make_user("aud", Role.AUDITADMIN, email="aud@yingdu.local")
        for w in self.witnesses:
            w.start()
        cp = self.grow(6)
        # Someone shows the first witness another tree of the same size first.
        fork = self.forge(cp.tree_size, b"\x07" * 32)
        answer = requests.post(
            self.witnesses[0].url + "/add-checkpoint", data=b"old 0\n\n" + fork.encode(), timeout=10
        )
        assert answer.status_code == 200
        with self.captureOnCommitCallbacks(execute=True):
            results = witnessing.collect_cosignatures()
        assert [r.status for r in results] == ["split_view", "ok"]
        assert witnessing.latest_witnessed() is None
        assert not Cosignature.objects.filter(checkpoint=cp, witness__name=self.witnesses[0].name).exists()
        event = AuditEvent.objects.get(action="ledger.witness_alarm")
        assert event.result == AuditEvent.Result.FAILURE
        assert event.after is not None and event.after["tree_size"] == cp.tree_size
        assert sorted(a for m in mail.outbox for a in m.to) == ["aud@yingdu.local", "sec@yingdu.local"]
        self.client.force_login(sec)
        page = self.client.get(reverse("console:security")).content.decode()
        assert "日志分叉" in page and self.witnesses[0].name in page
        # The same refusal again raises no second alarm.
        with self.captureOnCommitCallbacks(execute=True):
            witnessing.collect_cosignatures()
        assert AuditEvent.objects.filter(action="ledger.witness_alarm").count() == 1

    def test_it_refuses_a_rewritten_log_with_422_and_the_platform_raises_the_alarm(self) -> None:
        for w in self.witnesses:
            w.start()
        first = self.grow(4)
        # The second witness was shown a rewritten log of size 4; ours then grows to 10.
        rewritten = self.forge(first.tree_size, b"\x09" * 32)
        answer = requests.post(
            self.witnesses[1].url + "/add-checkpoint", data=b"old 0\n\n" + rewritten.encode(), timeout=10
        )
        assert answer.status_code == 200
        self.grow(6)
        results = witnessing.collect_cosignatures()
        assert [r.status for r in results] == ["ok", "split_view"]
        assert "一致性证明" in Witness.objects.get(name=self.witnesses[1].name).detail
        assert AuditEvent.objects.filter(action="ledger.witness_alarm").count() == 1

    def test_it_goes_on_ingesting_with_one_witness_down_and_is_witnessed_once_quorum_returns(self) -> None:
        up, down = self.witnesses
        up.start()
        cp = self.grow(3)
        assert [s.status for s in witnessing.collect_cosignatures()] == ["ok", "down"]
        assert witnessing.latest_witnessed() is None
        assert "无法连接" in witnessing.report_text()
        verify_ledger_nightly.call_local()
        nightly = AuditEvent.objects.filter(action="ledger.verify").latest("id")
        assert nightly.after is not None and nightly.after["witnessed_size"] is None
        assert nightly.after["witnesses_unavailable"][0].startswith("w2.witness.test: 无法连接")
        self.client.force_login(make_user("sec", Role.SECADMIN))
        assert "无法连接" in self.client.get(reverse("console:security")).content.decode()
        later = self.grow(4)  # ingestion goes on
        assert later.tree_size >= cp.tree_size + 4
        down.start()
        sign_periodic_checkpoint.call_local()  # the background worker's five-minute job
        assert set(Witness.objects.values_list("status", flat=True)) == {"ok"}
        assert witnessing.latest_witnessed() == later
        assert str(later.tree_size) in witnessing.report_text()

    def test_it_resends_from_the_size_the_witness_reports(self) -> None:
        for w in self.witnesses:
            w.start()
        self.grow(5)
        witnessing.collect_cosignatures()
        Witness.objects.update(known_size=0)  # the platform forgot what the witnesses hold
        cp = self.grow(3)
        assert [s.status for s in witnessing.collect_cosignatures()] == ["ok", "ok"]
        assert witnessing.latest_witnessed() == cp

    def test_it_prints_the_policy_with_each_witness_key(self) -> None:
        from io import StringIO

        out = StringIO()
        call_command("ledger", "policy", stdout=out)
        text = out.getvalue()
        assert text.startswith(f"log {keys.verifier_key()}\n")
        for w in self.witnesses:
            assert f"witness {w.name} {w.vkey} {w.url}\n" in text
        assert text.endswith("quorum both\n")


class WitnessedExportTests(TestCase):
    def test_it_exports_the_witnessed_checkpoint_and_verify_checks_every_cosignature(self) -> None:
        import tempfile
        from io import StringIO
        from pathlib import Path

        from django.db import connection

        from ledger import offline
        from ledger.export import export_log
        from ledger.tests.test_verify import raw_sql
        from ledger.verify import verify_log

        two_witnesses(self, start=True)
        append_entries([f"entry {i}".encode() for i in range(300)], kind="test")
        cp = sign_checkpoint()
        assert [s.status for s in witnessing.collect_cosignatures()] == ["ok", "ok"]
        append_entries([b"after the witnessed checkpoint"], kind="test")
        with tempfile.TemporaryDirectory() as d:
            export_log(d)
            witnessed = (Path(d) / "checkpoint.witnessed").read_text()
            assert witnessed.startswith(cp) and witnessed.count("\u2014 ") == 3
            assert (Path(d) / "witness-policy").read_text() == witnessing.policy_text()
            assert offline.audit_export(d, keys.verifier_key()).ok
            # One flipped byte in a cosignature line fails the offline audit.
            lines = witnessed.split("\n")
            lines[-2] = lines[-2][:-6] + ("A" if lines[-2][-6] != "A" else "B") + lines[-2][-5:]
            (Path(d) / "checkpoint.witnessed").write_text("\n".join(lines))
            result = offline.audit_export(d, keys.verifier_key())
            assert not result.ok and "法定数" in " ".join(result.problems)
        out = StringIO()
        call_command("ledger", "verify", stdout=out)
        assert f"最新已见证的日志大小 {witnessing.latest_witnessed().tree_size}" in out.getvalue()  # type: ignore[union-attr]
        # A stored cosignature edited in the database is named by verify.
        row = Cosignature.objects.order_by("id").first()
        assert row is not None
        with raw_sql() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("ALTER TABLE ledger_cosignature DISABLE TRIGGER USER")
            else:
                cursor.execute("DROP TRIGGER ledger_cosignature_append_only")
            cursor.execute(
                "UPDATE ledger_cosignature SET cosigned_at = %s WHERE id = %s",
                [row.cosigned_at.replace(year=2020), row.pk],
            )
        messages = [p.message for p in verify_log().problems]
        assert any("副署无法验证" in m for m in messages), messages


class PolicyApiTests(TestCase):
    def test_it_publishes_the_policy_beside_the_key(self) -> None:
        response = self.client.get("/api/v1/ledger/policy")
        assert response.status_code == 200
        assert response.content.decode() == f"log {keys.verifier_key()}\nquorum none\n"
        witnesses = two_witnesses(self)
        text = self.client.get("/api/v1/ledger/policy").content.decode()
        assert all(f"witness {w.name} {w.vkey} {w.url}\n" in text for w in witnesses)
