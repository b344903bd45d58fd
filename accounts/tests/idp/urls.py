"""The test provider's URLs: login, django-oauth-toolkit under /o/, and the misbehaviour switch."""

from __future__ import annotations

import base64
import json
import time
from typing import Any, cast

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.views import TokenView

# How the next ID tokens are spoiled: "", "forged", "expired", "nonce" or "issuer".
MODE = {"id_token": ""}


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def spoil(id_token: str, mode: str) -> str:
    """Re-issue ``id_token`` changed as ``mode`` says, signed like the provider signs (same kid)."""
    from jwcrypto import jwk, jwt

    header_part, payload_part, _signature = id_token.split(".")
    header = json.loads(_b64decode(header_part))
    claims = json.loads(_b64decode(payload_part))
    key = jwk.JWK.from_pem(str(getattr(settings, "OIDC_RSA_PRIVATE_KEY")).encode())  # noqa: B009 - a setting of this test project only
    now = int(time.time())
    if mode == "forged":
        key = jwk.JWK.generate(kty="RSA", size=2048)  # not the provider's key, but the same kid
    elif mode == "expired":
        claims["iat"], claims["exp"] = now - 7200, now - 3600
        claims["auth_time"] = now - 7200
    elif mode == "nonce":
        claims["nonce"] = "a-nonce-of-another-login"
    elif mode == "issuer":
        claims["iss"] = "http://idp.invalid/o"
    token = jwt.JWT(header=header, claims=claims)
    token.make_signed_token(key)
    return str(token.serialize())


@csrf_exempt
def token(request: HttpRequest) -> HttpResponse:
    response: Any = TokenView.as_view()(request)
    mode = MODE["id_token"]
    if mode and response.status_code == 200:
        data = json.loads(response.content)
        if "id_token" in data:
            data["id_token"] = spoil(data["id_token"], mode)
            response.content = json.dumps(data).encode()
    return cast(HttpResponse, response)


@csrf_exempt
def mode(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        MODE["id_token"] = request.POST.get("id_token", "")
    return JsonResponse(MODE)


urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="login.html"), name="login"),
    path("o/token/", token),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("test/mode/", mode),
]
