from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "ledger"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from ledger.labels import register_action_labels

        register_action_labels(
            {
                "ledger.witness_policy": _("载入日志见证策略"),
                "ledger.witness_alarm": _("日志分叉告警（见证方拒绝副署）"),
                "ledger.proof_download": _("下载离线证明"),
            }
        )
        from ledger import checks  # noqa: F401 - registers the deploy check of the database role
        from ledger.entry_checks import register_entry_check, register_table_check

        # Rows of covered tables against their row_state entries (the tables: audits.coverage).
        from ledger.rows import RowStateCheck, check_covered_rows

        register_entry_check(RowStateCheck())
        register_table_check(check_covered_rows)
