from django.apps import AppConfig


class ApplicationsConfig(AppConfig):
    name = "applications"

    def ready(self) -> None:
        # The log's details name these models' fields and codes (the audit console, its export).
        from ledger.labels import register_model_labels

        register_model_labels(*self.get_models())

        # The log names review transitions by their code; their Chinese names live in the table.
        from applications.deadlines import calendar_moves
        from applications.states import TRANSITIONS
        from core import hooks
        from ledger.labels import register_action_labels

        register_action_labels({f"application.{t.name}": t.lazy_label for t in TRANSITIONS.values()})
        hooks.register(hooks.CALENDAR_MOVES, calendar_moves)
        from applications.usage_labels import register_usage_labels
        from applications.vendor_formats import read_export

        register_usage_labels()
        hooks.register(hooks.USAGE_EXPORT_READ, read_export)
        from applications.money import annual_kept

        hooks.register(hooks.ANNUAL_KEPT, annual_kept)
