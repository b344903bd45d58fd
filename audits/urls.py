from __future__ import annotations

from django.urls import path

from audits import documents, fraud_views, views

app_name = "audits"

urlpatterns = [
    path("", views.workbench, name="workbench"),
    path("reconciliation/", views.reconciliation_list, name="reconciliation"),
    path("reconciliation/all/", views.reconcile_all, name="reconcile_all"),
    path("samples/", views.open_spot_check, name="open_spot_check"),
    path("samples/<str:quarter>/", views.spot_check, name="spot_check"),
    path("applications/<int:pk>/", views.application, name="application"),
    path("applications/<int:pk>/findings/", views.record_finding, name="record_finding"),
    path("applications/<int:pk>/clawback/", fraud_views.clawback, name="clawback"),
    path("findings/<int:pk>/", views.finding, name="finding"),
    path("findings/<int:pk>/notice/", views.send_notice, name="send_notice"),
    path("findings/<int:pk>/decide/", views.decide, name="decide"),
    path("evidence/<int:pk>/", views.evidence, name="evidence"),
    path("notices/", views.notices, name="notices"),
    path("notices/<int:pk>/", views.notice, name="notice"),
    path("notices/<int:pk>/notice.pdf", documents.notice_pdf, name="notice_pdf"),
    path("clawbacks/", fraud_views.clawbacks, name="clawbacks"),
    path("clawbacks/<int:pk>/decision.pdf", documents.clawback_pdf, name="clawback_pdf"),
    path("clawbacks/<int:pk>/repay/", fraud_views.repay, name="repay"),
    path("clawbacks/<int:pk>/write-off/", fraud_views.write_off, name="write_off"),
    path("blacklist/", fraud_views.blacklist, name="blacklist"),
    path("blacklist/<int:pk>/lift/", fraud_views.lift, name="lift"),
    path("blacklist.xlsx", fraud_views.blacklist_export, name="blacklist_export"),
]
