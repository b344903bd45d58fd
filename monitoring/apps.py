from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"

    def ready(self) -> None:
        from ledger.api import register_token_provider
        from ledger.verify import register_entry_check
        from monitoring.actions import token_provider_id
        from monitoring.integrity import UsageEntryCheck

        register_entry_check(UsageEntryCheck())
        register_token_provider(token_provider_id)
