from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PolicyConfig(AppConfig):
    name = "policy"
    verbose_name = _("政策参数与工作日")

    def ready(self) -> None:
        from django.utils.functional import lazy

        from ledger.labels import register_detail_labels
        from policy.rules import BINDING_ORDER, binding_label

        register_detail_labels(values={"binding": {b: lazy(binding_label, str)(b) for b in BINDING_ORDER}})
