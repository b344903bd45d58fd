from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _create_role_groups(sender: Any, **kwargs: Any) -> None:
    # Like Django's own create_permissions: make sure every role's group exists with its permissions.
    from accounts.groups import ensure_role_groups

    ensure_role_groups()


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("账号与角色")

    def ready(self) -> None:
        # The log's details name these models' fields and codes (the audit console, its export).
        from ledger.labels import register_model_labels

        register_model_labels(*self.get_models())

        from accounts import signals, system_checks  # noqa: F401

        post_migrate.connect(_create_role_groups, sender=self)
