from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("notifications/", views.notification_settings, name="notification_settings"),
    path("otp/", views.otp, name="otp"),
    path("otp/enrol/<str:token>/", views.otp_enrol, name="otp_enrol"),
    path("mfa-enrolment/<int:pk>/", views.mfa_enrolment, name="mfa_enrolment"),
]
