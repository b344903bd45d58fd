from __future__ import annotations

from django.urls import path

from ledger_web import proof_views, views

app_name = "ledger"

urlpatterns = [
    path("", views.index, name="index"),
    path("verify/", views.verify, name="verify"),
    path("proofs/<int:index>.tlog-proof", proof_views.proof_download, name="proof"),
]
