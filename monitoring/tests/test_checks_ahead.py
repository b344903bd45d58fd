"""On PostgreSQL a verify run makes the entry checks' reads on a second connection, in its own
snapshot, a window ahead: it finds exactly what the checks find on the verifier's connection."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test import TransactionTestCase

from enterprises.models import Enterprise, Provider
from ledger.verify import verify_log
from monitoring.ingest import record_usage_batch
from monitoring.models import UsageRecord
from monitoring.tests.factories import hourly, make_node
from testing.fixtures import USCC_A


@pytest.mark.postgres
class ChecksAheadTests(TransactionTestCase):
    def setUp(self) -> None:
        if connection.vendor != "postgresql":
            self.skipTest("the second connection shares a PostgreSQL snapshot")
        Enterprise.objects.create(
            name="北京影都智造文化传媒有限公司", uscc=USCC_A, status=Enterprise.Status.VERIFIED
        )
        provider = Provider.objects.create(name="怀柔智算中心", status=Provider.Status.APPROVED)
        _node, key = make_node(provider)
        for batch in range(3):
            result = record_usage_batch(provider, hourly(key, 40, gpu=f"GPU-{batch}"), actor_repr="test")
            assert all(r.status == "accepted" for r in result.results)
        self.rows = list(UsageRecord.objects.order_by("leaf_index"))

    def both(self) -> tuple[list[tuple[int | None, str]], list[tuple[int | None, str]]]:
        ahead = verify_log(window=256)  # its own transaction: the checks read on a second connection
        with transaction.atomic():  # inside a transaction: the checks read on this connection
            inline = verify_log(window=256)
        return [(p.index, str(p)) for p in ahead.problems], [(p.index, str(p)) for p in inline.problems]

    def test_it_passes_an_untouched_log_either_way(self) -> None:
        ahead, inline = self.both()
        self.assertEqual(ahead, [])
        self.assertEqual(inline, [])

    def test_it_names_the_same_edited_and_deleted_rows_either_way(self) -> None:
        edited, deleted = self.rows[5], self.rows[-3]
        with connection.cursor() as c:
            c.execute("UPDATE monitoring_usagerecord SET cost_cny = cost_cny + 1 WHERE id = %s", [edited.pk])
            c.execute("DELETE FROM monitoring_usagerecord WHERE id = %s", [deleted.pk])
        ahead, inline = self.both()
        self.assertEqual(ahead, inline)
        self.assertEqual({index for index, _m in ahead}, {edited.leaf_index, deleted.leaf_index})
