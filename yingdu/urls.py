from __future__ import annotations

from django.urls import include, path
from django.views.generic import RedirectView

from enterprises import views as enterprise_views
from review.progress import progress_query
from yingdu import views
from yingdu.api import api

urlpatterns = [
    path("", views.home, name="home"),
    path("policy-info/", views.policy_info, name="policy_info"),
    path("progress/", progress_query, name="progress_query"),
    path("workbench/", views.workbench, name="workbench"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("api/v1/", api.urls),
    path("accounts/", include("accounts.urls")),
    path("login/oidc/", enterprise_views.oidc_login, name="oidc_login"),
    path("login/oidc/callback/", enterprise_views.oidc_callback, name="oidc_callback"),
    path("enterprises/", include("enterprises.urls")),
    path("applications/", include("applications.urls")),
    path("policy/", include("policy.urls")),
    path("review/", include("review.urls")),
    path("ledger/", include("ledger_web.urls")),
    path("monitoring/", include("monitoring.urls")),
    path("audits/", include("audits.urls")),
    path("reports/", include("reports.urls")),
    # Administration is the console of the three administrators; Django's admin site is not
    # served, so every change to accounts goes through the audited actions.
    path("console/", include("accounts.console_urls")),
    path("sysadmin/", RedirectView.as_view(pattern_name="console:home", permanent=False)),
]

handler404 = "yingdu.views.not_found"
handler500 = "yingdu.views.server_error"
