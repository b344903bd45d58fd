from django.apps import AppConfig


class EnterprisesConfig(AppConfig):
    name = "enterprises"

    def ready(self) -> None:
        # The log's details name these models' fields and codes (the audit console, its export).
        from ledger.labels import register_model_labels

        register_model_labels(*self.get_models())
