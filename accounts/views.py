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

from accounts import actions
from accounts.models import current_user
from ledger.actions import record_event
from ledger.models import AuditEvent


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        from accounts import oidc

        context = super().get_context_data(**kwargs)
        context["oidc_enabled"] = oidc.enabled()
        return context


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


def _after_mfa(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("workbench")
    return redirect(next_url)


@login_required
@require_http_methods(["GET", "POST"])
def otp(request: HttpRequest) -> HttpResponse:
    """Second factor: verify a code of the bound authenticator every login.

    An account without one is told to ask the security administrator for an enrolment link;
    logging in never shows a new secret, so a password alone cannot bind a second factor.
    """
    from django_otp import login as otp_login
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = current_user(request)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        return render(request, "accounts/otp.html", {"needs_enrolment": True})
    error = ""
    if request.method == "POST":
        token = request.POST.get("token", "").strip()
        if token.isdigit() and device.verify_token(token):
            otp_login(request, device)
            record_event("auth.mfa_verified", actor=user, obj=user, request=request)
            return _after_mfa(request)
        record_event(
            "auth.mfa_failed", actor=user, obj=user, request=request, result=AuditEvent.Result.FAILURE
        )
        error = _("动态口令错误或已使用过，请输入验证器上最新的 6 位数字。")
    context = {"error": error, "next": request.GET.get("next") or request.POST.get("next", "")}
    return render(request, "accounts/otp.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def otp_enrol(request: HttpRequest, token: str) -> HttpResponse:
    """The one-time enrolment link: after the password login, bind an authenticator once."""
    from django_otp import login as otp_login
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = current_user(request)
    enrolment = actions.usable_mfa_enrolment(token, user)
    if enrolment is None:
        return render(request, "accounts/otp.html", {"invalid_link": True}, status=400)
    # The secret is made here, for this link, and seen only by the person who opened it.
    device, _created = TOTPDevice.objects.get_or_create(
        user=user, name=f"enrolment-{enrolment.pk}", defaults={"confirmed": False}
    )
    error = ""
    if request.method == "POST":
        code = request.POST.get("token", "").strip()
        if actions.complete_mfa_enrolment(enrolment, device, code, actor=user, request=request):
            otp_login(request, device)
            messages.success(request, _("动态口令验证器已绑定，此后每次登录须输入动态口令。"))
            return _after_mfa(request)
        error = _("动态口令错误或已使用过，请输入验证器上最新的 6 位数字。")
    context = {
        "enrolling": True,
        "error": error,
        "secret": base64.b32encode(device.bin_key).decode(),
        "qr": _qr_data_uri(device.config_url),
        "next": "",
    }
    return render(request, "accounts/otp.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def mfa_enrolment(request: HttpRequest, pk: int) -> HttpResponse:
    """The security administrator issues a one-time enrolment link for a staff account.

    The link is shown once, to be handed over out of band (in person, by phone); it works
    only after that person's own password login.
    """
    from django.core.exceptions import PermissionDenied, ValidationError
    from django.shortcuts import get_object_or_404

    from accounts.models import User
    from accounts.roles import Role

    admin = current_user(request)
    if not admin.has_role(Role.SECADMIN):
        raise PermissionDenied
    target = get_object_or_404(User, pk=pk)
    link = ""
    errors: list[str] = []
    if request.method == "POST":
        try:
            token = actions.issue_mfa_enrolment(target, actor=admin, request=request)
        except ValidationError as exc:
            errors = [str(m) for m in exc.messages]
        else:
            link = request.build_absolute_uri(actions.mfa_enrolment_path(token))
    return render(request, "accounts/mfa_enrolment.html", {"target": target, "link": link, "errors": errors})


@login_required
@require_http_methods(["GET", "POST"])
def notification_settings(request: HttpRequest) -> HttpResponse:
    """The signed-in user's own notification settings: mobile number and SMS opt-out."""
    from accounts.forms import NotificationSettingsForm

    user = current_user(request)
    if request.method == "POST":
        form = NotificationSettingsForm(request.POST)
        if form.is_valid():
            actions.update_notification_settings(
                user,
                phone=form.cleaned_data["phone"],
                sms_opt_out=form.cleaned_data["sms_opt_out"],
                actor=user,
                request=request,
            )
            messages.success(request, _("通知设置已保存。"))
            return redirect("accounts:notification_settings")
        status = 422
    else:
        form = NotificationSettingsForm(initial={"phone": user.phone, "sms_opt_out": user.sms_opt_out})
        status = 200
    return render(request, "accounts/notification_settings.html", {"form": form}, status=status)
