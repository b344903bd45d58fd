from django.urls import path

from enterprises import views

app_name = "enterprises"

urlpatterns = [
    path("register/", views.register, name="register"),
    path("register/confirm/<str:uidb64>/<str:token>/", views.confirm, name="confirm"),
    path("mine/", views.mine, name="mine"),
    path("pending/", views.pending, name="pending"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/license/", views.license_file, name="license"),
    path("<int:pk>/members/add/", views.add_member, name="add_member"),
    path("<int:pk>/verify/", views.verify, name="verify"),
    path("<int:pk>/license/<int:version>/", views.licence_version, name="licence_version"),
    path("<int:pk>/licences/upload/", views.upload_licence, name="upload_licence"),
    path("<int:pk>/licences/<int:version>/verify/", views.verify_licence, name="verify_licence"),
    path("<int:pk>/legal-representative/", views.set_legal_representative, name="set_legal_representative"),
    path("<int:pk>/delegations/grant/", views.grant_delegation, name="grant_delegation"),
    path(
        "<int:pk>/delegations/<int:delegation_pk>/revoke/", views.revoke_delegation, name="revoke_delegation"
    ),
]
