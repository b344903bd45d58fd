"""Sign-in at the unified identity platform by OpenID Connect, against a real provider on loopback.

The platform's client is Authlib; the provider is django-oauth-toolkit in a subprocess
(``accounts.tests.idp``). Refusals use real tokens the provider spoils on purpose.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlparse, urlunparse

import pytest
import requests
from django.test import Client

from accounts.actions import assign_roles
from accounts.models import OidcIdentity, User
from accounts.oidc import identity_from_claims
from accounts.roles import Role
from accounts.tests.conftest import IDP_PASSWORD, IdentityProvider
from enterprises.models import Enterprise
from ledger.models import AuditEvent
from testing.fixtures import USCC_A, USCC_C, make_enterprise, make_user


def sign_in_at_provider(authorize_url: str, username: str) -> str:
    """Log in at the provider's own form and follow it to the platform's callback URL (returned)."""
    session = requests.Session()
    response = session.get(authorize_url, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text[:500]
    login_url = urljoin(authorize_url, response.headers["Location"])
    session.get(login_url, timeout=10).raise_for_status()
    response = session.post(
        login_url,
        data={
            "username": username,
            "password": IDP_PASSWORD,
            "csrfmiddlewaretoken": session.cookies["idp_csrftoken"],
            "next": parse_qs(urlparse(login_url).query)["next"][0],
        },
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text[:500]
    response = session.get(
        urljoin(login_url, response.headers["Location"]), allow_redirects=False, timeout=10
    )
    assert response.status_code == 302, response.text[:500]
    callback = response.headers["Location"]
    assert callback.startswith("http://testserver/login/oidc/callback/?"), callback
    return callback


def round_trip(client: Client, username: str) -> tuple[str, Any]:
    start = client.get("/login/oidc/")
    assert start.status_code == 302
    assert "code_challenge_method=S256" in start["Location"] and "nonce=" in start["Location"]
    callback = sign_in_at_provider(start["Location"], username)
    return callback, client.get(callback)


def refusal(reason: str) -> AuditEvent:
    event = AuditEvent.objects.filter(action="auth.oidc_refused").latest("id")
    assert event.result == AuditEvent.Result.FAILURE
    assert (event.after or {})["reason"] == reason
    return event


@pytest.mark.django_db
def test_it_links_an_enterprise_login_to_the_registered_enterprise_and_its_legal_representative(
    client: Client, oidc: IdentityProvider
) -> None:
    enterprise = make_enterprise("北京影都智造文化传媒有限公司", USCC_A)
    _callback, response = round_trip(client, "zhangsan")
    assert response.status_code == 302
    user = User.objects.get(oidc_identities__subject__isnull=False, enterprise=enterprise)
    assert user.has_role(Role.APPLICANT) and user.display_name == "张三"
    enterprise.refresh_from_db()
    assert enterprise.legal_representative == user
    login = AuditEvent.objects.get(action="auth.oidc_login")
    assert login.actor == user and (login.after or {})["issuer"] == oidc.issuer
    assert client.get("/applications/").status_code == 200
    # The next login is the same account.
    client.logout()
    round_trip(client, "zhangsan")
    assert User.objects.filter(enterprise=enterprise).count() == 1
    assert OidcIdentity.objects.get(user=user).last_login_at is not None


@pytest.mark.django_db
def test_a_handler_login_gets_an_account_without_rights_until_delegated(
    client: Client, oidc: IdentityProvider
) -> None:
    enterprise = make_enterprise("北京影都智造文化传媒有限公司", USCC_A)
    legal = make_user("legal", Role.APPLICANT, enterprise=enterprise)
    round_trip(client, "lisi")
    handler = User.objects.get(username="lisi")
    enterprise.refresh_from_db()
    assert handler.enterprise == enterprise and enterprise.legal_representative == legal
    page = client.post("/applications/new/", follow=True).content.decode()
    assert "法定代表人尚未授权您“填报申请”" in page


@pytest.mark.django_db
def test_an_unregistered_uscc_starts_the_registration_prefilled(
    client: Client, oidc: IdentityProvider
) -> None:
    _callback, response = round_trip(client, "qianqi")
    assert response["Location"] == "/enterprises/register/"
    page = client.get("/enterprises/register/").content.decode()
    assert f'value="{USCC_C}"' in page and 'value="钱七"' in page
    assert not Enterprise.objects.filter(uscc=USCC_C).exists()
    assert AuditEvent.objects.filter(action="auth.oidc_registration_started").exists()


@pytest.mark.django_db
def test_a_staff_login_needs_a_role_from_the_security_administrator(
    client: Client, oidc: IdentityProvider, settings: object
) -> None:
    settings.STAFF_MFA_REQUIRED = True  # type: ignore[attr-defined]
    settings.OIDC_PROVIDER_MFA = True  # type: ignore[attr-defined]
    _callback, response = round_trip(client, "chen")
    assert response.status_code == 403
    assert "尚未由安全管理员分配角色" in response.content.decode()
    refusal("no_role")
    chen = User.objects.get(username="chen")
    secadmin = make_user("secadmin", Role.SECADMIN)
    assign_roles(chen, [Role.REVIEWER], actor=secadmin)
    _callback, response = round_trip(client, "chen")
    assert response.status_code == 302
    # The provider asserted a second factor (amr "otp") and the configuration accepts it.
    assert client.get("/workbench/").status_code == 200
    assert (AuditEvent.objects.get(action="auth.oidc_login").after or {})["provider_mfa"] is True


@pytest.mark.django_db
def test_without_a_provider_second_factor_staff_still_pass_the_platform_otp(
    client: Client, oidc: IdentityProvider, settings: object
) -> None:
    settings.STAFF_MFA_REQUIRED = True  # type: ignore[attr-defined]
    settings.OIDC_PROVIDER_MFA = True  # type: ignore[attr-defined]
    round_trip(client, "wu")  # refused: no role yet
    assign_roles(User.objects.get(username="wu"), [Role.HEAD], actor=make_user("secadmin", Role.SECADMIN))
    round_trip(client, "wu")
    # amr says only "pwd": the platform's own TOTP check still applies.
    assert client.get("/workbench/")["Location"].startswith("/accounts/otp/")
    assert (AuditEvent.objects.get(action="auth.oidc_login").after or {})["provider_mfa"] is False


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mode", "reason", "words"),
    [
        ("forged", "signature", "签名无效"),
        ("expired", "expired", "身份令牌已过期"),
        ("nonce", "nonce", "与本次登录请求不匹配"),
        ("issuer", "issuer", "签发方不是本平台配置的统一身份认证平台"),
    ],
)
def test_it_refuses_a_spoiled_id_token_with_a_clear_message_and_an_audit_event(
    client: Client, oidc: IdentityProvider, mode: str, reason: str, words: str
) -> None:
    make_enterprise("北京影都智造文化传媒有限公司", USCC_A)
    oidc.misbehave(mode)
    _callback, response = round_trip(client, "zhangsan")
    assert response.status_code == 403
    assert words in response.content.decode()
    refusal(reason)
    assert "_auth_user_id" not in client.session
    assert not AuditEvent.objects.filter(action="auth.oidc_login").exists()


@pytest.mark.django_db
def test_it_refuses_a_callback_whose_state_is_not_the_one_it_sent(
    client: Client, oidc: IdentityProvider
) -> None:
    start = client.get("/login/oidc/")
    callback = urlparse(sign_in_at_provider(start["Location"], "zhangsan"))
    query = parse_qs(callback.query)
    query["state"] = ["a-state-this-platform-never-sent"]
    response = client.get(urlunparse(callback._replace(query=urlencode(query, doseq=True))))
    assert response.status_code == 403
    assert "登录请求校验失败" in response.content.decode()
    refusal("state")
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_login_page_offers_the_unified_login_only_when_configured(
    client: Client, settings: object
) -> None:
    settings.OIDC_ISSUER = ""  # type: ignore[attr-defined]
    assert "统一身份认证登录" not in client.get("/accounts/login/").content.decode()
    assert client.get("/login/oidc/").status_code == 404
    settings.OIDC_ISSUER = "http://127.0.0.1:9/o"  # type: ignore[attr-defined]
    assert "统一身份认证登录" in client.get("/accounts/login/").content.decode()


def test_it_reads_a_provider_second_factor_from_amr_or_acr() -> None:
    base = {"iss": "https://idp.example", "sub": "1"}
    amr = ["mfa", "otp"]
    assert identity_from_claims(base | {"amr": ["pwd", "otp"]}, mfa_amr=amr, mfa_acr=[]).mfa
    assert not identity_from_claims(base | {"amr": ["pwd"]}, mfa_amr=amr, mfa_acr=[]).mfa
    assert identity_from_claims(base | {"acr": "loa3"}, mfa_amr=amr, mfa_acr=["loa3"]).mfa
    assert identity_from_claims(base | {"uscc": USCC_A.lower()}, mfa_amr=amr, mfa_acr=[]).uscc == USCC_A
