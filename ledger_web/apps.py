"""The log's pages and API, apart from the log's core."""

from django.apps import AppConfig


class LedgerWebConfig(AppConfig):
    name = "ledger_web"
