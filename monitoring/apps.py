from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"

    def ready(self) -> None:
        from ledger.verify import register_entry_check
        from monitoring.integrity import UsageEntryCheck

        register_entry_check(UsageEntryCheck())
