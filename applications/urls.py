from __future__ import annotations

from django.urls import path

from applications import clip_views, views, withdrawal

app_name = "applications"

urlpatterns = [
    path("", views.application_list, name="list"),
    path("new/", views.start, name="start"),
    path("consumption-template.<str:fmt>", views.consumption_template, name="consumption_template"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/edit/<slug:step>/", views.step, name="step"),
    path("<int:pk>/estimate/", views.estimate_fragment, name="estimate"),
    path("<int:pk>/materials/", views.materials_page, name="materials"),
    path("<int:pk>/materials/upload/", views.material_upload, name="material_upload"),
    path("<int:pk>/materials/<int:material_pk>/remove/", views.material_remove, name="material_remove"),
    path("<int:pk>/materials/<int:material_pk>/download/", views.material_download, name="material_download"),
    path("<int:pk>/materials/<int:material_pk>/view/", views.material_view, name="material_view"),
    path("<int:pk>/pdf/", views.application_pdf, name="pdf"),
    path("<int:pk>/submit/", views.submit, name="submit"),
    path("<int:pk>/withdraw/", withdrawal.withdraw, name="withdraw"),
    path("<int:pk>/delete/", withdrawal.delete, name="delete"),
    path("<int:pk>/clips/upload/", clip_views.clip_upload, name="clip_upload"),
]
