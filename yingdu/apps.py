from django.apps import AppConfig


class YingduConfig(AppConfig):
    name = "yingdu"
    verbose_name = "影都算力补助平台"
