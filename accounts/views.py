from __future__ import annotations

import base64
from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.models import current_user
from ledger.actions import record_event
from ledger.models import AuditEvent


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


def _qr_data_uri(uri: str) -> str:
    import io

    import qrcode

    image = qrcode.make(uri, box_size=5, border=2)
    out = io.BytesIO()
    image.save(out)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


@login_required
@require_http_methods(["GET", "POST"])
def otp(request: HttpRequest) -> HttpResponse:
    """Second factor: enrol a TOTP authenticator on first use, then verify a code every login."""
    from django_otp import login as otp_login
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = current_user(request)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    enrolling = device is None
    if device is None:
        device = TOTPDevice.objects.filter(user=user, confirmed=False).first() or TOTPDevice.objects.create(
            user=user, name="authenticator", confirmed=False
        )
    error = ""
    if request.method == "POST":
        token = request.POST.get("token", "").strip()
        if token.isdigit() and device.verify_token(token):
            if enrolling:
                device.confirmed = True
                device.save(update_fields=["confirmed"])
            otp_login(request, device)
            record_event(
                "auth.mfa_verified", actor=user, obj=user, request=request, after={"enrolled": enrolling}
            )
            next_url = request.POST.get("next") or ""
            if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
                next_url = reverse("workbench")
            return redirect(next_url)
        record_event(
            "auth.mfa_failed", actor=user, obj=user, request=request, result=AuditEvent.Result.FAILURE
        )
        error = _("动态口令错误或已使用过，请输入验证器上最新的 6 位数字。")
    context = {
        "enrolling": enrolling,
        "error": error,
        "next": request.GET.get("next") or request.POST.get("next", ""),
    }
    if enrolling:
        context["secret"] = base64.b32encode(device.bin_key).decode()
        context["qr"] = _qr_data_uri(device.config_url)
    return render(request, "accounts/otp.html", context)
