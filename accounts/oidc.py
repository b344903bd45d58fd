"""Sign-in at the unified identity platform (统一身份认证平台) by OpenID Connect.

The protocol is Authlib's (discovery, authorization-code flow with PKCE S256, state kept in
the session, ID-token signature against the provider's JWKS, issuer, audience, expiry and
nonce). This module adds what the platform decides: the configuration from settings, the
claims it reads (:class:`Identity`), and a Chinese message for every reason a sign-in is
refused (:class:`OidcRefused`), so that the page and the audit event say the same thing.

Mapping an identity to a platform user needs the enterprise register, which sits above
accounts; that is ``enterprises.oidc``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

# Claims of the unified identity platform beyond the standard ones: the enterprise's 统一社会信用代码
# for a corporate (法人) login, and whether the person is its legal representative.
USCC_CLAIM = "uscc"
LEGAL_REPRESENTATIVE_CLAIM = "legal_representative"
# Session flag: the provider asserted a second factor that the configuration accepts.
PROVIDER_MFA_SESSION_KEY = "_oidc_provider_mfa"
# Session data of an enterprise login whose USCC is not registered yet: the registration form's prefill.
REGISTRATION_SESSION_KEY = "_oidc_registration"


class OidcRefused(Exception):
    """A refused sign-in: ``reason`` is a short code for the audit trail, ``message`` is Chinese."""

    def __init__(self, reason: str, message: str, *, subject: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.subject = subject


def refusal_message(reason: str) -> str:
    messages = {
        "state": _(
            "登录请求校验失败：认证平台返回的请求与本平台发起的登录不一致（可能已过期或被篡改），请重新登录。"
        ),
        "nonce": _("身份令牌与本次登录请求不匹配（可能是被重放的令牌），已拒绝登录。"),
        "signature": _("身份令牌签名无效，无法确认由统一身份认证平台签发，已拒绝登录。"),
        "expired": _("身份令牌已过期，请重新登录。"),
        "issuer": _("身份令牌的签发方不是本平台配置的统一身份认证平台，已拒绝登录。"),
        "audience": _("身份令牌不是签发给本平台的，已拒绝登录。"),
        "token": _("身份令牌校验未通过，已拒绝登录。"),
        "provider_error": _("统一身份认证平台未完成认证，请重新登录或使用账号密码登录。"),
        "unreachable": _("暂时无法连接统一身份认证平台，请稍后再试或使用账号密码登录。"),
        "no_role": _("您的账号尚未由安全管理员分配角色，暂不能登录。请联系安全管理员。"),
        "inactive": _("您的账号已停用，请联系系统管理员。"),
        "enterprise_mismatch": _("统一身份认证平台提供的企业信息与本平台账号所属企业不一致，已拒绝登录。"),
    }
    return str(messages.get(reason, messages["token"]))


def refused(reason: str, *, subject: str = "") -> OidcRefused:
    return OidcRefused(reason, refusal_message(reason), subject=subject)


def enabled() -> bool:
    return bool(settings.OIDC_ISSUER)


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


_clients: dict[tuple[str, str, str], Any] = {}


def client() -> Any:
    """The Authlib client for the configured provider (one per configuration; metadata cached)."""
    from authlib.integrations.django_client import OAuth

    key = (settings.OIDC_ISSUER, settings.OIDC_CLIENT_ID, settings.OIDC_CLIENT_SECRET)
    if key not in _clients:
        oauth = OAuth()
        oauth.register(
            "unified_identity",
            client_id=settings.OIDC_CLIENT_ID,
            client_secret=settings.OIDC_CLIENT_SECRET,
            server_metadata_url=discovery_url(settings.OIDC_ISSUER),
            client_kwargs={
                "scope": settings.OIDC_SCOPES,
                "code_challenge_method": "S256",
                "timeout": settings.OIDC_TIMEOUT_SECONDS,
            },
        )
        _clients[key] = oauth.create_client("unified_identity")
    return _clients[key]


def _metadata(app: Any) -> dict[str, Any]:
    """The provider's discovery document; its issuer must be the configured one (OIDC Discovery §4.3)."""
    import requests

    try:
        metadata: dict[str, Any] = app.load_server_metadata()
    except (requests.RequestException, ValueError) as exc:
        raise refused("unreachable") from exc
    if str(metadata.get("issuer", "")).rstrip("/") != settings.OIDC_ISSUER:
        raise refused("issuer")
    return metadata


def start(request: HttpRequest, redirect_uri: str) -> HttpResponse:
    """Redirect to the provider: state, nonce and the PKCE verifier stay in the session."""
    import secrets

    app = client()
    _metadata(app)
    response: HttpResponse = app.authorize_redirect(request, redirect_uri, nonce=secrets.token_urlsafe(24))
    return response


def finish(request: HttpRequest) -> Mapping[str, Any]:
    """The verified ID-token claims of the provider's callback, or :class:`OidcRefused`."""
    import requests
    from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
    from joserfc import errors as jose

    app = client()
    _metadata(app)
    try:
        token = app.authorize_access_token(request)
    except MismatchingStateError as exc:
        raise refused("state") from exc
    except OAuthError as exc:
        raise refused("provider_error") from exc
    except jose.BadSignatureError as exc:
        raise refused("signature") from exc
    except jose.ExpiredTokenError as exc:
        raise refused("expired") from exc
    except (jose.InvalidClaimError, jose.MissingClaimError) as exc:
        reason = {"nonce": "nonce", "iss": "issuer", "aud": "audience", "azp": "audience"}.get(
            exc.claim, "token"
        )
        raise refused(reason) from exc
    except jose.JoseError as exc:
        raise refused("token") from exc
    except requests.RequestException as exc:
        raise refused("unreachable") from exc
    claims = token.get("userinfo")
    if not claims:
        # No ID token at all: the provider did not do OpenID Connect.
        raise refused("token")
    return dict(claims)


@dataclass(frozen=True)
class Identity:
    """What the platform reads from verified claims."""

    issuer: str
    subject: str
    name: str = ""
    email: str = ""
    phone: str = ""
    preferred_username: str = ""
    uscc: str = ""
    legal_representative: bool = False
    mfa: bool = False
    amr: tuple[str, ...] = field(default_factory=tuple)
    acr: str = ""

    @property
    def username_hint(self) -> str:
        """A readable, stable username for a new account: the provider's, else a digest of the subject."""
        import re

        hint = re.sub(r"[^\w.@+-]", "", self.preferred_username)[:100]
        if hint:
            return hint
        return "idp-" + hashlib.sha256(f"{self.issuer}|{self.subject}".encode()).hexdigest()[:12]


def identity_from_claims(claims: Mapping[str, Any], *, mfa_amr: list[str], mfa_acr: list[str]) -> Identity:
    """Pure: the identity in verified claims, and whether they assert a second factor
    (an ``amr`` value in ``mfa_amr`` or an ``acr`` in ``mfa_acr``, RFC 8176)."""
    raw_amr = claims.get("amr") or []
    amr = tuple(str(v) for v in raw_amr) if isinstance(raw_amr, list | tuple) else (str(raw_amr),)
    acr = str(claims.get("acr") or "")
    legal = claims.get(LEGAL_REPRESENTATIVE_CLAIM)
    return Identity(
        issuer=str(claims.get("iss") or ""),
        subject=str(claims.get("sub") or ""),
        name=str(claims.get("name") or "")[:50],
        email=str(claims.get("email") or "")[:254],
        phone=str(claims.get("phone_number") or "")[:20],
        preferred_username=str(claims.get("preferred_username") or ""),
        uscc=str(claims.get(USCC_CLAIM) or "").strip().upper(),
        legal_representative=legal is True or str(legal).lower() == "true",
        mfa=bool(set(amr) & set(mfa_amr)) or (bool(acr) and acr in mfa_acr),
        amr=amr,
        acr=acr,
    )
