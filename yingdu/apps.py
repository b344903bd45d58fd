"""The roof: settings, URLs, the API, the portal pages and the console. Installed for its commands."""

from django.apps import AppConfig


class SiteConfig(AppConfig):
    name = "yingdu"
    label = "site"
