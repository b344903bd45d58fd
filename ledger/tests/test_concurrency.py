"""Concurrent writers never fork the tree: the state row lock sequences them (PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import TransactionTestCase

from ledger import merkle, services
from ledger.actions import append_entries, sign_checkpoint
from ledger.verify import verify_log


@pytest.mark.postgres
class ConcurrentAppendTests(TransactionTestCase):
    def test_concurrent_appends_get_distinct_consecutive_indexes_and_one_tree(self) -> None:
        if connection.vendor != "postgresql":
            self.skipTest("needs PostgreSQL row locks")
        results: dict[int, list[int]] = {}
        errors: list[BaseException] = []

        def writer(w: int) -> None:
            from django.db import connection as conn

            try:
                got: list[int] = []
                for b in range(20):
                    got += append_entries([f"w{w}-b{b}-{k}".encode() for k in range(3)], kind="test")
                    if b % 5 == 0:
                        sign_checkpoint()
                results[w] = got
            except BaseException as exc:  # surfaced below
                errors.append(exc)
            finally:
                conn.close()

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        self.assertEqual(errors, [])
        all_indexes = sorted(i for got in results.values() for i in got)
        self.assertEqual(all_indexes, list(range(240)))
        self.assertEqual(services.tree_size(), 240)
        sign_checkpoint()
        result = verify_log()
        self.assertTrue(result.ok, [str(p) for p in result.problems])
        entries = [services.entry(i) for i in range(240)]
        self.assertEqual(services.root_at(240), merkle.root([merkle.leaf_hash(e) for e in entries]))
