from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.security import current_policy

LAST_SEEN_KEY = "_last_seen"


class IdleTimeoutMiddleware:
    """Ends a session after the policy's idle time without a request (等保 2.0 会话超时).

    The session is flushed server-side, not just forgotten by the browser.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = time.time()
            last_seen = request.session.get(LAST_SEEN_KEY)
            idle_limit = current_policy(request).session_idle_seconds
            if last_seen is not None and now - float(last_seen) > idle_limit:
                from ledger.actions import record_event

                user = request.user
                logout(request)
                record_event("auth.session_timeout", actor=user, obj=user, request=request)
                messages.warning(request, _("您已长时间未操作，为保障安全已自动退出，请重新登录。"))
                return redirect(f"{reverse('accounts:login')}?next={request.path}")
            if not _is_background_poll(request):
                request.session[LAST_SEEN_KEY] = now
            return self.get_response(request)
        response = self.get_response(request)
        # A login during this request starts the idle clock at once, so a session whose first
        # requests are background polls still ends after the idle time.
        if request.user.is_authenticated and LAST_SEEN_KEY not in request.session:
            request.session[LAST_SEEN_KEY] = time.time()
        return response


def _is_background_poll(request: HttpRequest) -> bool:
    """A GET a page makes by itself (the unread badge marks it so): it is not the user acting.

    Such a request is still refused after the idle time, but it neither extends the session nor
    rewrites it, so a late answer cannot hand the browser a session cookie again.
    """
    return request.method == "GET" and request.headers.get("X-Background-Poll") == "1"


class PasswordExpiryMiddleware:
    """Sends a user whose password is older than the policy's maximum age to the change-password page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        max_age = current_policy(request).password_max_age_days if user.is_authenticated else 0
        if max_age > 0:
            allowed = (reverse("accounts:password_change"), reverse("accounts:logout"))
            changed = getattr(user, "password_changed_at", None)
            expired = changed is not None and timezone.now() - changed > timedelta(days=max_age)
            # The second factor comes first (its pages and enrolment links sit under the OTP
            # page); sending those to the password page made the two middlewares loop.
            second_factor = request.path.startswith(reverse("accounts:otp"))
            if (
                expired
                and request.path not in allowed
                and not second_factor
                and not request.path.startswith(settings.STATIC_URL)
            ):
                messages.warning(
                    request,
                    _("您的密码已超过 %(days)d 天未修改，请先修改密码。") % {"days": max_age},
                )
                return redirect("accounts:password_change")
        return self.get_response(request)


class StaffMfaMiddleware:
    """Center staff and administrators must pass a TOTP check after the password (docs/security.md).

    Until the session is OTP-verified, every page except the OTP page and logout redirects there.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and needs_mfa(user) and current_policy(request).staff_mfa_required:
            otp_pages = reverse("accounts:otp")  # the code page and the enrolment links under it
            from accounts.oidc import PROVIDER_MFA_SESSION_KEY

            # A second factor asserted by the identity platform counts when configured so.
            verified = getattr(user, "is_verified", lambda: False)() or bool(
                request.session.get(PROVIDER_MFA_SESSION_KEY)
            )
            if (
                not verified
                and not request.path.startswith(otp_pages)
                and request.path != reverse("accounts:logout")
                and not request.path.startswith(settings.STATIC_URL)
            ):
                return redirect(f"{reverse('accounts:otp')}?next={request.path}")
        return self.get_response(request)


def needs_mfa(user: object) -> bool:
    from accounts.roles import ADMIN_ROLES, STAFF_ROLES

    has_role = getattr(user, "has_role", None)
    return bool(has_role and has_role(*STAFF_ROLES, *ADMIN_ROLES)) or bool(
        getattr(user, "is_superuser", False)
    )
