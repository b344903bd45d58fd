from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import oidc
from accounts.models import User, current_user
from accounts.roles import STAFF_ROLES, Role
from core.pagination import paginate
from enterprises import actions
from enterprises import oidc as enterprise_oidc
from enterprises.forms import DelegationForm, LicenceUploadForm, MemberForm, RegistrationForm, VerifyForm
from enterprises.models import Delegation, Enterprise, LicenceVersion, Right
from enterprises.permissions import RightRefused
from ledger.actions import record_event
from ledger.downloads import audited_download
from ledger.models import AuditEvent

# Audit events the enterprise sees about its delegations: grants, uses, revocations, refusals.
DELEGATION_EVENTS = (
    "enterprise.delegation_grant",
    "enterprise.delegation_use",
    "enterprise.delegation_revoke",
    "enterprise.delegation_refused",
    "enterprise.legal_representative",
)


def get_enterprise_for_user(request: HttpRequest, pk: int) -> Enterprise:
    """An enterprise the user may see: their own, or any for center staff; otherwise 404 (no IDOR hint)."""
    user = request.user
    if not user.is_authenticated:
        raise Http404
    if user.has_role(*STAFF_ROLES):
        return get_object_or_404(Enterprise, pk=pk)
    if user.enterprise_id != pk:
        raise Http404
    return get_object_or_404(Enterprise, pk=pk)


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    """企业注册: everything typed stays in the form when a check fails; the licence must be chosen again.

    A valid form always gets the same answer, whether or not the user name or USCC exists. After an
    enterprise login at the unified identity platform whose USCC is not registered, the form comes
    prefilled from the claims and the new account is linked to that identity.
    """
    prefill: dict[str, str] = request.session.get(oidc.REGISTRATION_SESSION_KEY) or {}
    form = RegistrationForm(request.POST or None, request.FILES or None, initial=prefill)
    if (
        request.method == "POST"
        and form.is_valid()
        and prefill.get("uscc", form.cleaned_data["uscc"]) != (form.cleaned_data["uscc"])
    ):
        form.add_error(
            "uscc", _("须与统一身份认证平台提供的统一社会信用代码 %(uscc)s 一致") % {"uscc": prefill["uscc"]}
        )
    if request.method == "POST" and form.is_valid():
        assert form.checked_license is not None
        data = form.cleaned_data
        actions.submit_registration(
            data, form.checked_license, username=data["username"], password=data["password1"], request=request
        )
        if prefill:
            new_user = User.objects.filter(
                username=data["username"], enterprise__uscc=prefill["uscc"], is_active=False
            ).first()
            if new_user is not None:
                enterprise_oidc.link_registered(new_user, prefill, request=request)
            request.session.pop(oidc.REGISTRATION_SESSION_KEY, None)
        return render(request, "enterprises/register_sent.html", {"email": data["handler_email"]})
    return render(request, "enterprises/register.html", {"form": form})


@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """The one-time link of the registration e-mail. GET shows a button; POST confirms, so a
    mail scanner that fetches links does not use the link up."""
    if request.method == "POST":
        user = actions.confirm_registration(uidb64, token, request=request)
        if user is not None:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, _("注册成功。企业信息待区文促中心核验，核验通过后即可申报。"))
            return redirect("enterprises:mine")
        return render(request, "enterprises/register_confirm.html", {"invalid": True}, status=400)
    return render(request, "enterprises/register_confirm.html", {"invalid": False})


@login_required
def mine(request: HttpRequest) -> HttpResponse:
    enterprise = request.user.enterprise  # type: ignore[union-attr]
    if enterprise is None:
        raise Http404
    return redirect("enterprises:detail", pk=enterprise.pk)


def _right_label(event: AuditEvent) -> str:
    code = (event.after or {}).get("right")
    return str(Right(code).label) if code in Right.values else ""


def _detail_context(request: HttpRequest, enterprise: Enterprise, **extra: object) -> dict[str, object]:
    user = current_user(request)
    is_member = user.enterprise_id == enterprise.pk
    is_legal_rep = is_member and enterprise.legal_representative_id == user.pk
    context: dict[str, object] = {
        "enterprise": enterprise,
        "members": enterprise.users.order_by("id"),
        "is_member": is_member,
        "is_legal_rep": is_legal_rep,
        "is_reviewer": user.has_role(Role.REVIEWER),
        "delegations": Delegation.objects.filter(enterprise=enterprise).select_related(
            "handler", "granted_by"
        ),
        "licences": enterprise.licences.order_by("-version"),
        "delegation_events": [
            (event, _right_label(event))
            for event in AuditEvent.objects.filter(
                enterprise_id_ref=enterprise.pk, action__in=DELEGATION_EVENTS
            )
            .select_related("actor")
            .order_by("-id")[:50]
        ],
        "today": timezone.localdate(),
    }
    if is_legal_rep and "delegation_form" not in extra:
        context["delegation_form"] = DelegationForm(enterprise=enterprise)
    if is_member and "licence_form" not in extra:
        context["licence_form"] = LicenceUploadForm()
    context.update(extra)
    return context


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    enterprise = get_enterprise_for_user(request, pk)
    return render(request, "enterprises/detail.html", _detail_context(request, enterprise))


@login_required
@require_POST
def grant_delegation(request: HttpRequest, pk: int) -> HttpResponse:
    """The legal representative grants a handler rights (经办授权)."""
    enterprise = get_enterprise_for_user(request, pk)
    user = current_user(request)
    if enterprise.legal_representative_id != user.pk:
        raise PermissionDenied
    form = DelegationForm(request.POST, enterprise=enterprise)
    if form.is_valid():
        handler = enterprise.users.get(pk=form.cleaned_data["handler"])
        try:
            actions.grant_delegation(
                enterprise,
                handler,
                rights=form.cleaned_data["rights"],
                expires_on=form.cleaned_data["expires_on"],
                actor=user,
                request=request,
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for message in errors:
                    form.add_error(field if field in form.fields else None, message)
        else:
            messages.success(request, _("已授权经办人 %(name)s。") % {"name": handler})
            return redirect("enterprises:detail", pk=enterprise.pk)
    context = _detail_context(request, enterprise, delegation_form=form)
    return render(request, "enterprises/detail.html", context, status=422)


@login_required
@require_POST
def set_legal_representative(request: HttpRequest, pk: int) -> HttpResponse:
    """A reviewer, having checked it with the enterprise, names its legal representative's account."""
    if not request.user.has_role(Role.REVIEWER):  # type: ignore[union-attr]
        raise PermissionDenied
    enterprise = get_object_or_404(Enterprise, pk=pk)
    member = enterprise.users.filter(pk=request.POST.get("user") or 0).first()
    if member is None:
        messages.error(request, _("请选择本企业的用户作为法定代表人账号"))
    else:
        actions.set_legal_representative(
            enterprise, member, actor=current_user(request), source="staff", request=request
        )
        messages.success(request, _("已确认 %(name)s 为法定代表人账号。") % {"name": member})
    return redirect("enterprises:detail", pk=pk)


@login_required
@require_POST
def revoke_delegation(request: HttpRequest, pk: int, delegation_pk: int) -> HttpResponse:
    enterprise = get_enterprise_for_user(request, pk)
    delegation = get_object_or_404(Delegation, pk=delegation_pk, enterprise=enterprise)
    actions.revoke_delegation(delegation, actor=current_user(request), request=request)
    messages.success(request, _("已撤销对 %(name)s 的授权。") % {"name": delegation.handler})
    return redirect("enterprises:detail", pk=enterprise.pk)


@login_required
@require_POST
def upload_licence(request: HttpRequest, pk: int) -> HttpResponse:
    """A changed business licence becomes a new version that the center verifies."""
    enterprise = get_enterprise_for_user(request, pk)
    user = current_user(request)
    if user.enterprise_id != enterprise.pk:
        raise Http404
    form = LicenceUploadForm(request.POST, request.FILES)
    if form.is_valid():
        assert form.checked_license is not None
        try:
            licence = actions.upload_licence(enterprise, form.checked_license, actor=user, request=request)
        except RightRefused as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request,
                _("已上传营业执照第 %(version)d 版，待区文促中心核验；核验通过前申报仍使用已核验的版本。")
                % {"version": licence.version},
            )
            return redirect("enterprises:detail", pk=enterprise.pk)
    context = _detail_context(request, enterprise, licence_form=form)
    return render(request, "enterprises/detail.html", context, status=422)


@login_required
@require_POST
def verify_licence(request: HttpRequest, pk: int, version: int) -> HttpResponse:
    if not request.user.has_role(Role.REVIEWER):  # type: ignore[union-attr]
        raise PermissionDenied
    licence = get_object_or_404(LicenceVersion, enterprise_id=pk, version=version)
    form = VerifyForm(request.POST)
    if form.is_valid():
        try:
            actions.verify_licence(
                licence,
                decision=form.cleaned_data["decision"],
                note=form.cleaned_data["note"],
                actor=current_user(request),
                request=request,
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("已保存营业执照核验结论。"))
    else:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect("enterprises:detail", pk=pk)


@login_required
def licence_version(request: HttpRequest, pk: int, version: int) -> FileResponse:
    """One version of the business licence, to the enterprise and to center staff."""
    enterprise = get_enterprise_for_user(request, pk)
    licence = get_object_or_404(LicenceVersion, enterprise=enterprise, version=version)
    return audited_download(
        request,
        "enterprise.license_download",
        obj=enterprise,
        after={"version": version},
        path=str(licence.file.name),
        content_type=licence.mime,
        filename=licence.original_name,
    )


@login_required
def license_file(request: HttpRequest, pk: int) -> FileResponse:
    enterprise = get_enterprise_for_user(request, pk)
    if not enterprise.license_file:
        raise Http404
    return audited_download(
        request,
        "enterprise.license_download",
        obj=enterprise,
        path=str(enterprise.license_file.name),
        content_type=enterprise.license_mime,
        filename=enterprise.license_name,
    )


@login_required
@require_http_methods(["GET", "POST"])
def add_member(request: HttpRequest, pk: int) -> HttpResponse:
    enterprise = get_enterprise_for_user(request, pk)
    if request.user.enterprise_id != enterprise.pk:  # type: ignore[union-attr]
        raise Http404
    form = MemberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        actions.add_member(enterprise, form.cleaned_data, actor=request.user, request=request)  # type: ignore[arg-type]
        messages.success(request, _("已添加企业用户。"))
        return redirect("enterprises:detail", pk=enterprise.pk)
    return render(request, "enterprises/member_form.html", {"form": form, "enterprise": enterprise})


@login_required
def pending(request: HttpRequest) -> HttpResponse:
    """Reviewer's list of enterprises, pending first, with search and pagination."""
    if not request.user.has_role(Role.REVIEWER, Role.HEAD, Role.APPROVER, Role.INSPECTOR):  # type: ignore[union-attr]
        raise PermissionDenied
    status = request.GET.get("status", Enterprise.Status.PENDING)
    q = request.GET.get("q", "").strip()
    qs = Enterprise.objects.all().order_by("created_at")
    if status in Enterprise.Status.values:
        qs = qs.filter(status=status)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(uscc__icontains=q))
    page = paginate(request, qs, 20)
    return render(
        request,
        "enterprises/pending.html",
        {"page": page, "status": status, "q": q, "statuses": Enterprise.Status.choices},
    )


@login_required
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.has_role(Role.REVIEWER):  # type: ignore[union-attr]
        raise PermissionDenied
    enterprise = get_object_or_404(Enterprise, pk=pk)
    if enterprise.status == Enterprise.Status.VERIFIED:
        # Nothing is left to verify; a change of the licence goes through its own verification.
        messages.info(request, _("%(name)s 已核验通过，无需再次核验。") % {"name": enterprise.name})
        return redirect("enterprises:detail", pk=enterprise.pk)
    form = VerifyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        actions.verify_enterprise(
            enterprise,
            decision=form.cleaned_data["decision"],
            note=form.cleaned_data["note"],
            actor=request.user,  # type: ignore[arg-type]
            request=request,
        )
        messages.success(request, _("已保存核验结论。"))
        return redirect("enterprises:pending")
    return render(request, "enterprises/verify.html", {"form": form, "enterprise": enterprise})


# --- sign-in at the unified identity platform (OpenID Connect) -------------------------------------
# Here rather than in accounts: matching an enterprise login needs the enterprise register.

OIDC_NEXT_SESSION_KEY = "_oidc_next"


def _oidc_refused(request: HttpRequest, exc: oidc.OidcRefused) -> HttpResponse:
    record_event(
        "auth.oidc_refused",
        actor=None,
        actor_repr=exc.subject or "anonymous",
        after={"reason": exc.reason, "error": exc.message, "issuer": settings.OIDC_ISSUER},
        result=AuditEvent.Result.FAILURE,
        request=request,
    )
    return render(request, "accounts/oidc_refused.html", {"message": exc.message}, status=403)


@require_GET
def oidc_login(request: HttpRequest) -> HttpResponse:
    """统一身份认证登录: off (404) unless OIDC_ISSUER is configured."""
    if not oidc.enabled():
        raise Http404
    next_url = request.GET.get("next", "")
    if url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        request.session[OIDC_NEXT_SESSION_KEY] = next_url
    try:
        return oidc.start(request, request.build_absolute_uri(reverse("oidc_callback")))
    except oidc.OidcRefused as exc:
        return _oidc_refused(request, exc)


@require_GET
def oidc_callback(request: HttpRequest) -> HttpResponse:
    """The provider's answer: verified claims → a platform user, or a refusal with its reason."""
    if not oidc.enabled():
        raise Http404
    try:
        claims = oidc.finish(request)
        identity = oidc.identity_from_claims(
            claims, mfa_amr=settings.OIDC_MFA_AMR, mfa_acr=settings.OIDC_MFA_ACR
        )
        outcome = enterprise_oidc.sign_in(identity, request=request)
    except oidc.OidcRefused as exc:
        return _oidc_refused(request, exc)
    if outcome.registration is not None:
        request.session[oidc.REGISTRATION_SESSION_KEY] = outcome.registration
        record_event(
            "auth.oidc_registration_started",
            actor=None,
            actor_repr=identity.subject,
            after={"issuer": identity.issuer, "uscc": identity.uscc},
            request=request,
        )
        messages.info(
            request, _("该统一社会信用代码尚未在本平台注册，请完成企业注册（已按统一身份认证信息预填）。")
        )
        return redirect("enterprises:register")
    user = outcome.user
    assert user is not None
    next_url = request.session.pop(OIDC_NEXT_SESSION_KEY, "") or reverse("workbench")
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    provider_mfa = settings.OIDC_PROVIDER_MFA and identity.mfa
    if provider_mfa:
        request.session[oidc.PROVIDER_MFA_SESSION_KEY] = True
    record_event(
        "auth.oidc_login",
        actor=user,
        obj=user,
        after={
            "issuer": identity.issuer,
            "subject": identity.subject,
            "amr": list(identity.amr),
            "acr": identity.acr,
            "provider_mfa": provider_mfa,
        },
        request=request,
    )
    return redirect(next_url)
