"""``yingdu check --deploy`` warns when the application's database role could switch the log's triggers off."""

from __future__ import annotations

import pytest
from django.db import DEFAULT_DB_ALIAS, connection
from django.db.utils import ConnectionHandler
from django.test import TestCase

from ledger.checks import database_role, role_warnings


class DatabaseRoleCheckTests(TestCase):
    def test_it_says_nothing_without_database_roles(self) -> None:
        # An SQLite database of its own, whichever database the suite runs on.
        sqlite = ConnectionHandler({DEFAULT_DB_ALIAS: {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}})
        try:
            self.assertEqual(role_warnings(sqlite[DEFAULT_DB_ALIAS]), [])
        finally:
            sqlite.close_all()

    @pytest.mark.postgres
    def test_it_warns_for_a_superuser_owning_the_log_tables(self) -> None:
        # The suite's throw-away server runs as its superuser, which owns every table.
        ids = {m.id for m in database_role()}
        self.assertEqual(ids, {"ledger.W001", "ledger.W002"})

    @pytest.mark.postgres
    def test_it_is_quiet_for_a_role_that_neither_owns_nor_is_superuser(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("CREATE ROLE yingdu_app_check NOSUPERUSER")
            cursor.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO yingdu_app_check")
            cursor.execute("SET ROLE yingdu_app_check")
            try:
                self.assertEqual(database_role(), [])
            finally:
                cursor.execute("RESET ROLE")
