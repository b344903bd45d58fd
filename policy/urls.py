from __future__ import annotations

from django.urls import path

from policy import views

app_name = "policy"

urlpatterns = [
    path("calc/", views.calc, name="calc"),
    path("calendar/", views.calendar, name="calendar"),
    path("calendar/enter/", views.calendar_enter, name="calendar_enter"),
]
