from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditsConfig(AppConfig):
    name = "audits"
    verbose_name = _("核查")

    def ready(self) -> None:
        from audits import receivers

        receivers.register()
