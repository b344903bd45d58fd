"""The ground floor: utilities every app may use. Its app label stays ``yingdu`` so that its tables
and migrations keep their names."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class CoreConfig(AppConfig):
    name = "core"
    label = "yingdu"
    verbose_name = gettext_lazy("影都算力补助平台")
