from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"

    def ready(self) -> None:
        # The log's details name these models' fields and codes (the audit console, its export).
        from ledger.labels import register_model_labels

        register_model_labels(*self.get_models())

        from ledger.entry_checks import register_entry_check
        from ledger_web.api import register_token_provider
        from monitoring.actions import token_provider_id
        from monitoring.integrity import UsageEntryCheck

        register_entry_check(UsageEntryCheck())
        register_token_provider(token_provider_id)
