from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "ledger"

    def ready(self) -> None:
        from ledger import checks  # noqa: F401 - registers the deploy check of the database role

        # Rows of covered tables against their row_state entries (the tables: audits.coverage).
        from ledger.rows import RowStateCheck, check_covered_rows
        from ledger.verify import register_entry_check, register_table_check

        register_entry_check(RowStateCheck())
        register_table_check(check_covered_rows)
