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
]
