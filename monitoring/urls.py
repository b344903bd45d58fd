from __future__ import annotations

from django.urls import path

from monitoring import bill_views, records, upload_views, views

app_name = "monitoring"

urlpatterns = [
    path("", views.portal, name="portal"),
    path("upload/", upload_views.upload, name="upload"),
    path("upload/template.csv", upload_views.template, name="upload_template"),
    path("batches/<int:pk>/", upload_views.batch, name="batch"),
    path("records/", records.records, name="records"),
    path("records/<uuid:record_id>/receipt.json", records.receipt_download, name="record_receipt"),
    path("register/", views.register, name="register"),
    path("nodes/add/", views.node_add, name="node_add"),
    path("nodes/<int:pk>/toggle/", views.node_toggle, name="node_toggle"),
    path("tokens/create/", views.token_create, name="token_create"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
    path("providers/", views.providers, name="providers"),
    path("providers/<int:pk>/", views.provider_detail, name="provider_detail"),
    path("providers/<int:pk>/status/", views.provider_status, name="provider_status"),
    path("bills/upload/", bill_views.bill_upload, name="bill_upload"),
]
