from __future__ import annotations

from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "review"

    def ready(self) -> None:
        from review import notify
        from yingdu import hooks

        hooks.register(hooks.APPLICATION_SUBMITTED, notify.send_submission_receipt)
