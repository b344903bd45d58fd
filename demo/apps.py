"""The living demo: its cast, its files and the year it plays through the platform's own actions."""

from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "demo"
