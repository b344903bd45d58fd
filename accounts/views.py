from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.urls import reverse_lazy
from django.utils.translation import gettext as _

from accounts.models import current_user
from ledger.actions import record_event


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("workbench")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        user = current_user(self.request)
        record_event("auth.password_changed", actor=user, obj=user, request=self.request)
        messages.success(self.request, _("密码已修改。其他设备上的登录已失效。"))
        return response
