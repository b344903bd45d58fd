from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditsConfig(AppConfig):
    name = "audits"
    verbose_name = _("核查")

    def ready(self) -> None:
        from django.utils.functional import lazy
        from django.utils.translation import gettext_lazy as _

        from audits.rules import FLAG_CODES, flag_label
        from ledger.labels import register_detail_labels, register_model_labels

        register_model_labels(*self.get_models())
        named: dict[str, object] = {code: lazy(flag_label, str)(code) for code in FLAG_CODES}
        register_detail_labels(values={"flags": named, "flagged": named})
        # A decision's amount found, logged under a money key (shown with 千分位).
        register_detail_labels(fields={"found_amount": _("认定金额（元）")})

        from audits import coverage, receivers

        receivers.register()
        coverage.register()
