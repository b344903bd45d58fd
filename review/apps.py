from __future__ import annotations

from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "review"

    def ready(self) -> None:
        # The log's details name these models' fields and codes (the audit console, its export).
        from ledger.labels import register_detail_labels, register_model_labels
        from review.rows import checklist

        register_model_labels(*self.get_models())
        register_detail_labels(values={"items": {item.item_code: item.label for item in checklist()}})

        from core import hooks
        from review import deadlines, notify, ratings, witness_alarm

        hooks.register(hooks.APPLICATION_SUBMITTED, notify.send_submission_receipt)
        hooks.register(hooks.CALENDAR_MOVES, deadlines.calendar_moves)
        hooks.register(hooks.CALENDAR_LOADED, deadlines.tell_people)
        hooks.register(hooks.ENTERPRISE_REGISTERED, notify.enterprise_registered)
        hooks.register(hooks.ENTERPRISE_VERIFIED, notify.enterprise_verified)
        hooks.register(hooks.APPLICATION_ENDED, ratings.ask_for_rating)
        hooks.register(hooks.APPLICATION_PAGE_PANELS, ratings.rating_panel)
        hooks.register(hooks.REVIEW_PAGE_PANELS, ratings.review_page_rating_panel)
        hooks.register(hooks.CALENDAR_MOVES, ratings.follow_up_moves)
        hooks.register(hooks.LEDGER_WITNESS_ALARM, witness_alarm.witness_alarm)
