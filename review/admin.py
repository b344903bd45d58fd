from __future__ import annotations

from django.contrib import admin

from core.admin import ReadOnlyAdmin
from review.models import (
    Notification,
    OnSiteCheck,
    Payment,
    Rating,
    RatingFollowUp,
    ReviewStep,
    SmsMessage,
    SupplementNotice,
)


@admin.register(ReviewStep)
class ReviewStepAdmin(ReadOnlyAdmin):
    list_display = ("application", "transition", "level", "actor", "at", "status_before", "status_after")
    list_filter = ("transition", "level")


@admin.register(SupplementNotice)
class SupplementNoticeAdmin(ReadOnlyAdmin):
    list_display = ("application", "round", "notice_date", "resubmitted_date", "created_by")


@admin.register(OnSiteCheck)
class OnSiteCheckAdmin(ReadOnlyAdmin):
    list_display = ("application", "date", "people", "recorded_by")


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("application", "date", "amount", "bank_reference", "recorded_by")


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("user", "kind", "title", "created_at", "read_at")
    list_filter = ("kind",)


@admin.register(SmsMessage)
class SmsMessageAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "phone_masked", "kind", "status", "attempts", "sent_at", "last_error")
    list_filter = ("status", "kind")


@admin.register(Rating)
class RatingAdmin(ReadOnlyAdmin):
    list_display = ("application", "overall", "rated_by", "rated_at")
    list_filter = ("overall",)


@admin.register(RatingFollowUp)
class RatingFollowUpAdmin(ReadOnlyAdmin):
    list_display = ("rating", "opened_on", "status", "closed_by", "closed_at")
    list_filter = ("status",)
