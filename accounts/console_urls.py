from django.urls import path

from accounts import console

app_name = "console"

urlpatterns = [
    path("", console.home, name="home"),
    path("accounts/", console.accounts, name="accounts"),
    path("accounts/new/", console.account_new, name="account_new"),
    path("accounts/<int:pk>/", console.account, name="account"),
    path("accounts/<int:pk>/active/", console.account_active, name="account_active"),
    path("accounts/<int:pk>/roles/", console.account_roles, name="account_roles"),
    path("settings/", console.site_settings, name="settings"),
    path("security/", console.security_policy, name="security"),
    path("lockouts/", console.lockouts, name="lockouts"),
    path("audit/", console.audit_log, name="audit"),
    path("audit/export.xlsx", console.audit_export, name="audit_export"),
]
