from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from yingdu import views
from yingdu.api import api

admin.site.site_header = "影都算力补助平台 管理"
admin.site.site_title = "影都算力补助平台"

urlpatterns = [
    path("", views.home, name="home"),
    path("policy-info/", views.policy_info, name="policy_info"),
    path("workbench/", views.workbench, name="workbench"),
    path("healthz", views.healthz, name="healthz"),
    path("api/v1/", api.urls),
    path("accounts/", include("accounts.urls")),
    path("enterprises/", include("enterprises.urls")),
    path("applications/", include("applications.urls")),
    path("policy/", include("policy.urls")),
    path("review/", include("review.urls")),
    path("ledger/", include("ledger.urls")),
    path("monitoring/", include("monitoring.urls")),
    path("audits/", include("audits.urls")),
    path("reports/", include("reports.urls")),
    path("sysadmin/", admin.site.urls),
]

handler404 = "yingdu.views.not_found"
handler500 = "yingdu.views.server_error"
