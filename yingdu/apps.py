
from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class YingduConfig(AppConfig):
    name = "yingdu"
    verbose_name = gettext_lazy("影都算力补助平台")
