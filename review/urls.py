from __future__ import annotations

from django.urls import path

from review import (
    applicant_views,
    export_views,
    inbox,
    offer_views,
    payment_views,
    rating_views,
    sms_views,
    views,
)

app_name = "review"

urlpatterns = [
    path("", views.workbench, name="workbench"),
    path("inbox/", inbox.inbox, name="inbox"),
    path("sms/", sms_views.sms_log, name="sms_log"),
    path("inbox/read/", inbox.inbox_read, name="inbox_read"),
    path("inbox/unread/", inbox.unread_badge, name="inbox_unread"),
    path("inbox/<int:pk>/", inbox.message, name="message"),
    path("follow-ups/", rating_views.follow_ups, name="follow_ups"),
    path("follow-ups/<int:pk>/", rating_views.follow_up, name="follow_up"),
    path("follow-ups/<int:pk>/close/", rating_views.close_follow_up, name="close_follow_up"),
    path("ledger.xlsx", export_views.ledger_export, name="ledger_export"),
    path("attachments/<int:pk>/", views.attachment, name="attachment"),
    path("works/", offer_views.works, name="works"),
    path("works/<int:pk>/launch/", offer_views.launch, name="work_launch"),
    path("offers/<int:pk>/", offer_views.offer, name="offer"),
    path("works/<int:pk>/verify-filing/", offer_views.verify_filing_view, name="work_verify_filing"),
    path("payments/", payment_views.instructions, name="payment_instructions"),
    path("payments/<int:pk>/", payment_views.instruction, name="payment_instruction"),
    path("payments/<int:pk>/export.<slug:fmt>", payment_views.export, name="payment_instruction_export"),
    path("payee-accounts/", payment_views.accounts, name="payee_accounts"),
    path("my-account/", payment_views.my_account, name="my_account"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/do/<slug:name>/", views.transition, name="transition"),
    path("<int:pk>/supplement/request/", views.supplement_request, name="supplement_request"),
    path("<int:pk>/supplement/", applicant_views.supplement, name="supplement"),
    path("<int:pk>/rate/", rating_views.rate, name="rate"),
    path("<int:pk>/on-site-check/", views.on_site_check, name="on_site_check"),
    path("<int:pk>/take-over/", views.take_over, name="take_over"),
    path("<int:pk>/payment/", views.payment, name="payment"),
    path("<int:pk>/approval-form.pdf", views.approval_form, name="approval_form"),
]
