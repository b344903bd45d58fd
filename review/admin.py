from __future__ import annotations

from django.contrib import admin

from core.admin import ReadOnlyAdmin
from review.models import (
    OnSiteCheck,
    Payment,
    Rating,
    RatingFollowUp,
    ReviewStep,
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




@admin.register(Rating)
class RatingAdmin(ReadOnlyAdmin):
    list_display = ("application", "overall", "rated_by", "rated_at")
    list_filter = ("overall",)


@admin.register(RatingFollowUp)
class RatingFollowUpAdmin(ReadOnlyAdmin):
    list_display = ("rating", "opened_on", "status", "closed_by", "closed_at")
    list_filter = ("status",)
